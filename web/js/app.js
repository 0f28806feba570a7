// Who is logged in (GET /me), what their roles allow, and the page frame (header, titles,
// "not found"). Roles only shape the page: the API decides, and its 403/404 are shown.

import {get, post, session} from './api.js';
import {h, clear} from './dom.js';
import {navigate} from './router.js';

let me = null;

export async function loadMe(signal) {
  me = await get('/me', {signal});
  return me;
}

export function currentUser() {
  return me;
}

export function forgetUser() {
  me = null;
}

export function roleIn(team) {
  if (!me) return null;
  const t = me.teams.find((x) => x.name === team);
  return t ? t.role : null;
}

// May the user create, scale, upgrade and delete clusters of `team`? (Action kOperate:
// team admins and members, and platform admins.)
export function canOperate(team) {
  if (!me) return false;
  if (me.is_admin) return true;
  const role = roleIn(team);
  return role === 'admin' || role === 'member';
}

// Teams the user can create clusters in.
export async function operableTeams(signal) {
  if (me.is_admin) {
    const teams = await get('/teams', {signal});
    return teams.items.map((t) => t.name);
  }
  return me.teams.filter((t) => t.role !== 'viewer').map((t) => t.name);
}

// Every team the user sees (members: their own; platform admins: all).
export async function visibleTeams(signal) {
  if (me.is_admin) {
    const teams = await get('/teams', {signal});
    return teams.items.map((t) => t.name);
  }
  return me.teams.map((t) => t.name);
}

export async function logout(message = 'You are logged out.') {
  try {
    if (session.token) await post('/auth/logout');
  } catch {
    // the token may already be gone; logging out locally is what matters
  }
  session.clear();
  forgetUser();
  sessionStorage.setItem('kaas.flash', message);
  renderHeader(null);
  navigate('/login', {replace: true});
}

export function takeFlash() {
  const m = sessionStorage.getItem('kaas.flash');
  sessionStorage.removeItem('kaas.flash');
  return m;
}

export function renderHeader(user) {
  const top = document.getElementById('top');
  const path = location.pathname;
  const link = (href, label, match) => h('a', {
    href,
    class: 'nav-link',
    'aria-current': match(path) ? 'page' : null,
  }, label);
  clear(top,
    h('a', {href: '/', class: 'brand', 'aria-label': 'kaas home'},
      h('img', {src: '/favicon.svg', alt: '', width: 24, height: 24}), h('span', {}, 'kaas')),
    user && h('nav', {'aria-label': 'Main'},
      link('/', 'Clusters', (p) => p === '/' || (p.startsWith('/clusters') && p !== '/clusters/new')),
      (user.is_admin || user.teams.some((t) => t.role !== 'viewer')) &&
        link('/clusters/new', 'Create cluster', (p) => p === '/clusters/new'),
      link('/quota', 'Quota', (p) => p.startsWith('/quota')),
      (user.is_admin || user.teams.some((t) => t.role === 'admin')) &&
        link('/webhooks', 'Webhooks', (p) => p.startsWith('/webhooks')),
      user.is_admin && link('/admin', 'Admin', (p) => p.startsWith('/admin'))),
    user && h('div', {class: 'who'},
      h('span', {class: 'who-name', title: user.is_admin ? 'platform admin' : ''},
        user.username, user.is_admin ? h('span', {class: 'tag'}, 'admin') : null),
      h('button', {type: 'button', class: 'btn btn-quiet', onclick: () => logout()},
        'Log out')));
}

export function title(ctx, text, ...extra) {
  document.title = `${text} · kaas`;
  const h1 = h('h1', {tabindex: '-1'}, text);
  ctx.main.append(h('div', {class: 'page-head'}, h1, ...extra));
  return h1;
}

export function notFound(ctx, what = 'page') {
  if (!ctx.active) return;
  document.title = 'Not found · kaas';
  clear(ctx.main, h('section', {class: 'empty'},
    h('h1', {}, 'Not found'),
    h('p', {}, `This ${what} does not exist, or it belongs to a team you are not a member of.`),
    h('p', {}, h('a', {href: '/'}, 'Back to your clusters'))));
}

// An error that stops the page. Not shown when the user has moved on, or when the session
// ended (401: the login page is already there).
export function failure(ctx, err) {
  if (!ctx.active || err.status === 401 || err.name === 'AbortError') return;
  ctx.main.append(h('p', {class: 'notice notice-error', role: 'alert'}, err.message));
}
