// #/admin/config — every DVR config key with help text and validation (client-side first, then
// the server's per-field messages), the driver URL templates, and a raw JSON view. PUT replaces
// the whole object (dvr-api §3.7), so the form always sends every key.
import { api } from '../api.js';
import { h, field, pageHead, act, fill, toast, setText } from '../ui.js';

const DUR = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;
const KEYS = [
  ['resolution', 'int', 'Recorder resolution in lines (the overseer accepts 480, 720, 1080).', [480, 720, 1080]],
  ['framerate', 'int', 'Frames per second (30 or 60).', [30, 60]],
  ['out_pattern', 'text', 'Output path template. Placeholders: {{.Driver}}, {{.Source}}, {{.Session.Year}} … {{.Recording.Second}}.'],
  ['log_pattern', 'text', 'Stored only.'],
  ['segment_length', 'dur', 'Length of each segment file (e.g. 5m); empty or 0 = one file per recording.'],
  ['check_interval', 'dur', 'How often an offline source is checked (e.g. 1m).'],
  ['retry_delay', 'dur', 'Stored only.'],
  ['segment_timeout', 'dur', 'Stored only.'],
  ['recording_timeout', 'dur', 'Stored only.'],
  ['log_level', 'text', 'Recorder log level (error, warn, info, debug).'],
  ['output_format', 'text', 'Recorder output format (json).'],
  ['user_agent', 'text', 'User-Agent header the recorder sends; empty = recorder default.'],
  ['cookies', 'secret', 'Cookies the recorder sends (secret; visible to admins only).'],
  ['restart_delay', 'dur', 'Wait before the overseer restarts an exited recorder (e.g. 30s).'],
  ['reconcile_interval', 'dur', 'How often the control plane reconciles with the overseer (e.g. 60s).'],
  ['start_concurrency', 'int', 'Recorders started in parallel during bulk starts (0 = default 5, at most 100).'],
  ['error_threshold', 'int', 'Unintentional exits within the error window that put a source in error.'],
  ['error_window', 'dur', 'The window the error threshold counts in (e.g. 5m).'],
];

export async function render(main) {
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'cfg-h' });
  const raw = h('textarea', { 'aria-label': 'Configuration as JSON', spellcheck: 'false', rows: 16 });
  const rawErr = h('p', { class: 'form-error', role: 'alert' });
  const fields = {};
  const urls = h('div', { class: 'stack' });
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save configuration');
  const rawSave = h('button', { type: 'button', class: 'btn' }, 'Save JSON');
  main.append(pageHead('Configuration', 'Applies to the next recorder start; restart sources to apply now.'),
    h('div', { class: 'cols' }, form,
      h('section', { class: 'card', 'aria-labelledby': 'raw-h' }, h('h2', { id: 'raw-h' }, 'Raw JSON'),
        h('p', { class: 'muted small' }, 'The whole object; saving replaces every key.'), raw, rawErr, h('div', { class: 'row mt' }, rawSave))));

  let cfg = await api.get('/api/config');
  function paint() {
    fill(form, h('h2', { id: 'cfg-h' }, 'Recorder settings'));
    for (const [key, kind, help, choices] of KEYS) {
      let input;
      if (choices) input = h('select', { name: key }, choices.map((c) => h('option', { value: String(c), selected: Number(cfg[key]) === c }, String(c))),
        choices.includes(Number(cfg[key])) ? null : h('option', { value: String(cfg[key]), selected: true }, String(cfg[key])));
      else input = h('input', { name: key, value: String(cfg[key] ?? ''), type: kind === 'int' ? 'number' : kind === 'secret' ? 'password' : 'text', inputmode: kind === 'int' ? 'numeric' : null, autocomplete: 'off', spellcheck: 'false' });
      const f = field(key, input, help);
      fields[key] = { f, input, kind };
      form.append(f);
    }
    fill(urls);
    for (const [d, t] of Object.entries(cfg.driver_urls || {})) urls.append(urlRow(d, t));
    form.append(h('h3', {}, 'Source page links (driver_urls)'), h('p', { class: 'muted small' }, '{{.Username}} is replaced by the source’s username.'), urls,
      h('div', { class: 'row mt' }, h('button', { type: 'button', class: 'btn small', onclick: () => { const r = urlRow('', ''); urls.append(r); r.querySelector('input').focus(); } }, 'Add driver link')),
      h('div', { class: 'row mt' }, save));
    raw.value = JSON.stringify(cfg, null, 2);
  }
  function urlRow(d, t) {
    const di = h('input', { value: d, 'aria-label': 'Driver', placeholder: 'driver', class: 'drv' });
    const ti = h('input', { value: t, 'aria-label': `Link template for ${d || 'new driver'}`, placeholder: 'https://example.com/{{.Username}}', class: 'tpl' });
    const row = h('div', { class: 'form-row' }, h('div', { class: 'field' }, di), h('div', { class: 'field' }, ti),
      h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Remove ${d || 'this'} link`, onclick: () => row.remove() }, 'Remove'));
    return row;
  }
  function collect() {
    const out = {};
    let bad = null;
    for (const [key, { f, input, kind }] of Object.entries(fields)) {
      const v = input.value.trim();
      let msg = '';
      if (kind === 'int') {
        if (!/^\d+$/.test(v)) msg = 'Enter a whole number.';
        else out[key] = Number(v);
        if (key === 'start_concurrency' && !msg && Number(v) > 100) msg = 'At most 100 (0 = the default, 5).';
      } else if (kind === 'dur') {
        if (v && !DUR.test(v)) msg = 'Use a duration such as 30s, 5m or 1h30m.';
        out[key] = v;
      } else out[key] = input.value;
      f.setError(msg);
      if (msg && !bad) bad = input;
    }
    const map = {};
    for (const row of urls.children) {
      const d = row.querySelector('.drv').value.trim();
      const t = row.querySelector('.tpl').value.trim();
      if (d) map[d] = t;
    }
    out.driver_urls = map;
    return { out, bad };
  }
  async function put(body, onFieldError) {
    try {
      cfg = await api.put('/api/config', body);
      paint();
      toast.ok('Configuration saved');
    } catch (err) {
      if (err.status === 400) { onFieldError(err); return; }
      throw err;
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { out, bad } = collect();
    if (bad) { bad.focus(); return; }
    act(save, () => put(out, (err) => {
      const d = Array.isArray(err.body?.details) ? err.body.details : [];
      let first = null;
      for (const x of d) {
        const key = String(x.path || '').split('.')[0];
        if (fields[key]) { fields[key].f.setError(x.message); first ||= fields[key].input; }
      }
      if (first) first.focus(); else toast.error(err);
    }));
  });
  rawSave.addEventListener('click', () => {
    setText(rawErr, '');
    let body;
    try { body = JSON.parse(raw.value); } catch (e) { setText(rawErr, `Not valid JSON: ${e.message}`); raw.focus(); return; }
    act(rawSave, () => put(body, (err) => { setText(rawErr, err.message); raw.focus(); }));
  });
  paint();
}
