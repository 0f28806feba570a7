// Entry point: the routes of the portal and the login guard.

import {session, setUnauthenticatedHandler} from './api.js';
import {currentUser, loadMe, forgetUser, renderHeader, notFound} from './app.js';
import {guard, navigate, route, start, currentPath} from './router.js';
import {loginPage} from './pages/login.js';
import {clustersPage} from './pages/clusters.js';
import {createPage} from './pages/create.js';
import {clusterPage} from './pages/cluster.js';
import {quotaPage} from './pages/quota.js';
import {adminPage} from './pages/admin.js';
import {webhooksPage} from './pages/webhooks.js';

route('/login', loginPage);
route('/', clustersPage);
route('/clusters', clustersPage);
route('/clusters/new', createPage);
route('/clusters/:id', clusterPage);
route('/quota', quotaPage);
route('/quota/:team', quotaPage);
route('/webhooks', webhooksPage);
route('/webhooks/:team', webhooksPage);
route('/admin', adminPage);
route('/admin/:tab', adminPage);
route('*', (ctx) => notFound(ctx));

setUnauthenticatedHandler(() => {
  session.clear();
  forgetUser();
  sessionStorage.setItem('kaas.flash', 'Your session has ended. Please log in again.');
  renderHeader(null);
  navigate(`/login?next=${encodeURIComponent(currentPath())}`, {replace: true});
});

guard(async (ctx) => {
  if (ctx.pattern === '/login') {
    renderHeader(null);
    return true;
  }
  if (!session.token) {
    navigate(`/login?next=${encodeURIComponent(currentPath())}`, {replace: true});
    return false;
  }
  if (!currentUser()) {
    try {
      await loadMe(ctx.signal);
    } catch (e) {
      if (e.name === 'AbortError' || e.status === 401) return false;
      ctx.main.replaceChildren(document.createTextNode(e.message));
      return false;
    }
  }
  renderHeader(currentUser());
  return true;
});

// Focus the page heading after each navigation so that screen readers and keyboard users
// start at the new content.
new MutationObserver(() => {
  const h1 = document.querySelector('#main h1');
  if (h1 && document.activeElement === document.body) h1.focus({preventScroll: true});
}).observe(document.getElementById('main'), {childList: true, subtree: false});

start();
