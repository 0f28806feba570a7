// A small History API router. A page is `async (ctx) => void`, where ctx has the route
// params, the query, the <main> element to fill, an AbortSignal that fires when the user
// navigates away (pass it to every fetch) and onLeave(fn) for timers and streams.

const routes = [];
let current = null; // {controller, leave: []}
let beforeEach = async () => true;

// pattern: '/clusters/:id'; '*' matches anything (the not-found page).
export function route(pattern, page) {
  const keys = [];
  const re = pattern === '*'
    ? /^.*$/
    : new RegExp(`^${pattern.replace(/\/:([a-z_]+)/g, (_, k) => {
      keys.push(k);
      return '/([^/]+)';
    })}/?$`);
  routes.push({pattern, re, keys, page});
}

// Runs before each page; returning false stops (it navigated elsewhere).
export function guard(fn) {
  beforeEach = fn;
}

export function navigate(to, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  return render();
}

export function currentPath() {
  return location.pathname + location.search;
}

export async function render() {
  if (current) {
    current.controller.abort();
    for (const fn of current.leave) {
      try {
        fn();
      } catch (e) {
        console.error(e);
      }
    }
  }
  const state = {controller: new AbortController(), leave: []};
  current = state;
  const path = location.pathname;
  const r = routes.find((x) => x.re.test(path));
  const m = path.match(r.re);
  const params = {};
  r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
  const main = document.getElementById('main');
  const ctx = {
    path,
    pattern: r.pattern,
    params,
    query: new URLSearchParams(location.search),
    main,
    signal: state.controller.signal,
    onLeave: (fn) => state.leave.push(fn),
    get active() {
      return current === state;
    },
  };
  if (!(await beforeEach(ctx))) return;
  if (current !== state) return;
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    await r.page(ctx);
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  } finally {
    if (current === state) main.removeAttribute('aria-busy');
  }
}

export function start() {
  window.addEventListener('popstate', render);
  // Same-origin links navigate inside the page; modified clicks and downloads do not.
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[href]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey ||
        e.altKey || a.target || a.hasAttribute('download') || a.origin !== location.origin ||
        a.pathname.startsWith('/api/')) {
      return;
    }
    e.preventDefault();
    if (a.pathname + a.search !== currentPath()) navigate(a.pathname + a.search);
  });
  return render();
}
