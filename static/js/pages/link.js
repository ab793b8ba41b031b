// #/link and #/link/{code} — approve a TV's sign-in (device pairing, RFC 8628). The TV shows a code
// (or a QR code of `/link?code=…`, which the Worker redirects here); the person enters or confirms
// it, sees what is asking (the device's name, where from, when), picks the organization the TV
// should open, and approves or denies. A signed-out visitor signs in first and comes back here with
// the code kept (app.js remembers the page).
import { api } from '../api.js';
import { h, field, fill, pageHead, setText, fmtDate } from '../ui.js';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** 'bcdf ghjk', 'BCDFGHJK' → 'BCDF-GHJK'; null when it cannot be a code. */
export function normalizeCode(raw) {
  const s = String(raw ?? '').toUpperCase().replace(/[\s-]/g, '');
  return s.length === 8 && [...s].every((c) => ALPHABET.includes(c)) ? `${s.slice(0, 4)}-${s.slice(4)}` : null;
}

function countryName(code) {
  if (!code) return null;
  try {
    return new Intl.DisplayNames(undefined, { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}

export async function render(main, params, ctx) {
  const body = h('div', { class: 'link-page' });
  main.append(pageHead('Link a TV', 'Sign a TV or another device in with this account'), body);

  function entryForm(message, value = '') {
    const input = h('input', {
      name: 'code', id: 'link-code', value, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
      maxlength: 12, inputmode: 'text', placeholder: 'XXXX-XXXX', class: 'code-input',
    });
    const f = field('Code shown on the TV', input, 'Eight letters, with or without the dash.');
    const form = h('form', { class: 'card link-card', novalidate: true, 'aria-labelledby': 'link-enter-h' },
      h('h2', { id: 'link-enter-h' }, 'Enter the code'), f,
      h('div', { class: 'link-actions' }, h('button', { type: 'submit', class: 'btn primary', id: 'link-continue' }, 'Continue')));
    if (message) f.setError(message);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const code = normalizeCode(input.value);
      if (!code) { f.setError('That is not a code: eight letters such as BCDF-GHJK.'); input.focus(); return; }
      ctx.navigate(`#/link/${code}`);
    });
    fill(body, form);
    input.focus();
  }

  function done(title, text, kind) {
    fill(body, h('section', { class: `card link-card link-${kind}`, role: 'status', id: 'link-result' },
      h('h2', {}, title), h('p', {}, text),
      h('p', {}, h('a', { href: '#/link', class: 'btn' }, 'Link another device'), ' ', h('a', { href: '#/profile', class: 'btn ghost' }, 'Paired devices'))));
  }

  const code = params.code ? normalizeCode(params.code) : null;
  if (!code) { entryForm(params.code ? 'That is not a code: eight letters such as BCDF-GHJK.' : ''); return; }

  fill(body, h('p', { class: 'loading' }, 'Looking up the code…'));
  let req;
  try {
    req = await api.get(`/auth/device/${encodeURIComponent(code)}`);
  } catch (e) {
    entryForm(e.status === 404 ? 'No device is waiting for this code. Check the TV: the code may have expired.' : e.message, code);
    return;
  }
  if (req.status !== 'pending') {
    done('Already answered', req.status === 'denied' ? 'You refused this sign-in.' : 'You approved this sign-in: the TV is signed in.', 'ok');
    return;
  }

  // Only real memberships: the TV opens an org the person belongs to (the API refuses any other).
  const orgs = (ctx.orgs || []).filter((o) => o.role !== 'platform_admin');
  const select = h('select', { name: 'org_id', id: 'link-org' },
    orgs.map((o) => h('option', { value: String(o.id) }, `${o.name} (${o.role})`)));
  const orgField = orgs.length > 1 ? field('Organization to open on the TV', select) : null;
  const err = h('p', { class: 'form-error', role: 'alert', id: 'link-error' });
  const approve = h('button', { type: 'button', class: 'btn primary', id: 'link-approve' }, 'Approve');
  const deny = h('button', { type: 'button', class: 'btn danger', id: 'link-deny' }, 'Deny');
  const where = countryName(req.country);

  async function answer(kind) {
    setText(err, '');
    approve.disabled = deny.disabled = true;
    try {
      if (kind === 'approve') {
        const orgId = orgs.length > 1 ? Number(select.value) : orgs[0]?.id;
        await api.post(`/auth/device/${encodeURIComponent(code)}/approve`, orgId ? { org_id: orgId } : {});
        done('Approved', `${req.client_name || 'The device'} is signing in as ${ctx.user.username}. You can close this page.`, 'ok');
      } else {
        await api.post(`/auth/device/${encodeURIComponent(code)}/deny`, {});
        done('Denied', 'The device was refused and cannot use this code any more.', 'bad');
      }
    } catch (e) {
      setText(err, e.status === 404 ? 'The code expired or was answered elsewhere. Ask the TV for a new code.' : e.message);
      approve.disabled = deny.disabled = false;
    }
  }
  approve.addEventListener('click', () => answer('approve'));
  deny.addEventListener('click', () => answer('deny'));

  fill(body, h('section', { class: 'card link-card', 'aria-labelledby': 'link-ask-h' },
    h('h2', { id: 'link-ask-h' }, 'A device wants to sign in as you'),
    h('p', { class: 'link-code', id: 'link-shown-code', 'aria-label': `code ${code.split('').join(' ')}` }, code),
    h('p', { class: 'muted small' }, 'Approve only if this is the code on the screen in front of you.'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Device'), h('dd', { id: 'link-client' }, req.client_name || 'unnamed device'),
      where ? [h('dt', {}, 'From'), h('dd', {}, where)] : null,
      h('dt', {}, 'Asked'), h('dd', {}, fmtDate(req.created_at)),
      h('dt', {}, 'Signs in as'), h('dd', {}, ctx.user.username),
      orgs.length === 1 ? [h('dt', {}, 'Opens'), h('dd', {}, orgs[0].name)] : null),
    orgField, err,
    h('div', { class: 'link-actions' }, approve, deny)));
  approve.focus();
}
