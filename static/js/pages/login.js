// #/login — sign in with the shared identity (DVR login sets the dashboard's cookies).
import { api } from '../api.js';
import { h, field, setText } from '../ui.js';

export async function render(root, _params, ctx) {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'login-card', 'aria-labelledby': 'login-h', novalidate: true },
    h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 28, height: 28 }), h('h1', { id: 'login-h' }, 'Edgeplane')),
    h('p', { class: 'muted small' }, 'Sign in to manage recordings and the console.'),
    field('Username', user), field('Password', pass), err, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setText(err, '');
    if (!user.value.trim() || !pass.value) { setText(err, 'Enter your username and password.'); (user.value.trim() ? pass : user).focus(); return; }
    btn.disabled = true;
    setText(btn, 'Signing in…');
    try {
      const r = await api.post('/api/auth/login', { username: user.value.trim(), password: pass.value });
      await ctx.setUser(r.user);
      location.hash = ctx.takeReturn?.() || '#/';
    } catch (e2) {
      setText(err, e2.message);
      pass.select();
      pass.focus();
    } finally {
      btn.disabled = false;
      setText(btn, 'Sign in');
    }
  });
  root.append(form);
  user.focus();
}
