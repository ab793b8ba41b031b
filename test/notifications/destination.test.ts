/**
 * The SSRF guard: every spelling of an internal address is refused at registration (through the
 * API) and by the checker the consumer runs before each delivery; the development flag lifts it.
 */
import { describe, expect, it } from 'vitest';
import { checkDestination } from '../../src/notifications/destination';
import { call, json } from '../support/http';
import { makeUser } from '../support/users';

const refused: Array<[string, string]> = [
  ['http://hooks.example.com/in', 'plain http'],
  ['ftp://hooks.example.com/in', 'another scheme'],
  ['https://user:pw@hooks.example.com/in', 'credentials'],
  ['https://localhost/in', 'localhost'],
  ['https://api.localhost/in', '*.localhost'],
  ['https://printer.local/in', 'mDNS .local'],
  ['https://metadata.google.internal/computeMetadata/v1/', '.internal'],
  ['https://intranet/in', 'single label'],
  ['https://127.0.0.1/in', 'loopback'],
  ['https://127.1/in', 'short loopback'],
  ['https://2130706433/in', 'decimal loopback'],
  ['https://0x7f000001/in', 'hex loopback'],
  ['https://0x7f.0.0.1/in', 'hex octet'],
  ['https://0177.0.0.1/in', 'octal octet'],
  ['https://0.0.0.0/in', 'this network'],
  ['https://10.1.2.3/in', 'private 10/8'],
  ['https://172.16.0.1/in', 'private 172.16/12'],
  ['https://172.31.255.255/in', 'private 172.16/12, top'],
  ['https://192.168.1.1/in', 'private 192.168/16'],
  ['https://100.64.0.1/in', 'CGNAT'],
  ['https://169.254.169.254/latest/meta-data/', 'cloud metadata'],
  ['https://224.0.0.1/in', 'multicast'],
  ['https://255.255.255.255/in', 'broadcast'],
  ['https://[::1]/in', 'IPv6 loopback'],
  ['https://[::]/in', 'IPv6 unspecified'],
  ['https://[::ffff:127.0.0.1]/in', 'IPv4-mapped loopback'],
  ['https://[::ffff:a9fe:a9fe]/in', 'IPv4-mapped metadata, hex'],
  ['https://[::ffff:10.0.0.1]/in', 'IPv4-mapped private'],
  ['https://[::127.0.0.1]/in', 'IPv4-compatible loopback'],
  ['https://[64:ff9b::a9fe:a9fe]/in', 'NAT64 metadata'],
  ['https://[2002:7f00:1::]/in', '6to4 loopback'],
  ['https://[fc00::1]/in', 'ULA fc00::/7'],
  ['https://[fd00:ec2::254]/in', 'ULA (cloud metadata)'],
  ['https://[fe80::1]/in', 'link-local'],
  ['https://[ff02::1]/in', 'IPv6 multicast'],
  ['not a url', 'garbage'],
];

const allowed = ['https://hooks.example.com/in', 'https://discord.com/api/webhooks/1/abc', 'https://8.8.8.8/in', 'https://[2606:4700:4700::1111]/in', 'https://172.32.0.1/in', 'https://hooks.example.com:8443/in'];

describe('destination checks', () => {
  it.each(refused)('refuses %s (%s)', (url) => {
    expect(checkDestination(url, { allowPrivate: false }).ok).toBe(false);
  });

  it.each(allowed)('allows %s', (url) => {
    expect(checkDestination(url, { allowPrivate: false }).ok).toBe(true);
  });

  it('lets the development flag through to local receivers over http, but never another scheme or credentials', () => {
    expect(checkDestination('http://127.0.0.1:9999/hook', { allowPrivate: true }).ok).toBe(true);
    expect(checkDestination('http://localhost:9999/hook', { allowPrivate: true }).ok).toBe(true);
    expect(checkDestination('file:///etc/passwd', { allowPrivate: true }).ok).toBe(false);
    expect(checkDestination('http://a:b@127.0.0.1/', { allowPrivate: true }).ok).toBe(false);
  });
});

describe('registration refuses internal destinations', () => {
  it.each(refused.filter(([u]) => u !== 'not a url'))('POST /api/webhooks refuses %s (%s)', async (url) => {
    const u = await makeUser();
    const res = await call('POST', '/api/webhooks', { token: u.token, body: { url, events: ['recording.stored'] } });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('webhook_url_refused');
  });
});
