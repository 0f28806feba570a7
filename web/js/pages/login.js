// Log in: POST /auth/login. 401 says so plainly; 429 says how long to wait (Retry-After).

import {post, session} from '../api.js';
import {loadMe, takeFlash} from '../app.js';
import {h, field, clearErrors, showError} from '../dom.js';
import {navigate} from '../router.js';

export async function loginPage(ctx) {
  if (session.token) {
    navigate('/', {replace: true});
    return;
  }
  document.title = 'Log in · kaas';
  const flash = takeFlash();
  const username = h('input', {name: 'username', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false'});
  const password = h('input', {name: 'password', type: 'password', autocomplete: 'current-password',
    required: true});
  const message = h('p', {class: 'form-error', role: 'alert', id: 'login-error'});
  const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Log in');
  let countdown = null;
  ctx.onLeave(() => clearInterval(countdown));

  const form = h('form', {class: 'card login', novalidate: true, 'aria-labelledby': 'login-title'},
    h('h1', {id: 'login-title', tabindex: '-1'}, 'Log in to kaas'),
    h('p', {class: 'muted'}, 'Kubernetes clusters for your team, on our own datacenter.'),
    flash ? h('p', {class: 'notice', role: 'status'}, flash) : null,
    field('Username', 'username', username),
    field('Password', 'password', password),
    message,
    h('div', {class: 'actions'}, submit));

  function rateLimited(seconds) {
    let left = seconds;
    const say = () => {
      message.textContent = left > 0
        ? `Too many failed attempts. Wait ${left} s before trying again (the server asked for ${seconds} s).`
        : 'You can try again now.';
    };
    say();
    submit.disabled = true;
    clearInterval(countdown);
    countdown = setInterval(() => {
      left -= 1;
      say();
      if (left <= 0) {
        clearInterval(countdown);
        submit.disabled = false;
      }
    }, 1000);
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    message.textContent = '';
    if (!username.value) return showError(form, {message: 'Enter your username.', details: {field: 'username'}});
    if (!password.value) return showError(form, {message: 'Enter your password.', details: {field: 'password'}});
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      const r = await post('/auth/login', {username: username.value, password: password.value});
      session.set(r.token);
      await loadMe();
      const next = ctx.query.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', {replace: true});
    } catch (err) {
      submit.textContent = 'Log in';
      submit.disabled = false;
      if (err.status === 401) {
        message.textContent = 'Wrong username or password.';
        password.value = '';
        password.focus();
      } else if (err.status === 429) {
        rateLimited(err.retryAfter || 60);
      } else {
        showError(form, err, message);
      }
    }
  });

  ctx.main.append(h('div', {class: 'login-wrap'}, form));
  (username.value ? password : username).focus();
}
