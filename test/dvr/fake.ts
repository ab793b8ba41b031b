/**
 * Test-side handle on the scripted fake overseer (test/support/fake-overseer.mjs). Each test file
 * takes its own session: the Worker's dial URL is rewritten through `setWorld({ fetch })` (the
 * link dials with `world.fetch`), so parallel files never share tasks or messages.
 *
 *   const fake = await useFakeOverseer('dvr-contract');
 *   const start = await fake.waitForMessage((m) => m.type === 'start');
 *   await fake.send({ type: 'output', task_id: 't1', ... });
 */
import { env } from 'cloudflare:test';
import { setWorld, world } from '../../src/world';
import { call, json } from '../support/http';

export interface Frame {
  type: string;
  id?: string;
  task_id?: string;
  action?: string;
  params?: Record<string, string>;
  retry_policy?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface FakeOverseer {
  session: string;
  messages(): Promise<Frame[]>;
  waitForMessage(pred: (m: Frame) => boolean, what?: string): Promise<Frame>;
  send(frame: Record<string, unknown>): Promise<number>;
  /** Pushes several frames in one control call, so they reach the link back to back. */
  sendAll(frames: Record<string, unknown>[]): Promise<number>;
  mode(mode: 'auto' | 'manual' | 'hold-starts'): Promise<void>;
  tasks(tasks: Record<string, unknown>[]): Promise<void>;
  state(): Promise<{ clients: number; tasks: Array<Record<string, unknown>>; refusedUnauthenticated: number }>;
  /** Sends text as is (not JSON-encoded) to every client. */
  raw(text: string): Promise<number>;
  restart(): Promise<void>;
  refuse(refuse: boolean): Promise<void>;
  stopDelay(ms: number): Promise<void>;
  /** Pool limit (0 = unlimited); answers the pool after the change. */
  pool(limit: number): Promise<Record<string, unknown>>;
  purge(): Promise<void>;
  expire(): Promise<void>;
  reset(): Promise<void>;
}

/** Polls `probe` until `done` holds (bounded by attempts, not by a duration assertion). */
export async function eventually<T>(probe: () => Promise<T>, done: (v: T) => boolean, what = 'condition', attempts = 200): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < attempts; i++) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never reached: ${what}; last value: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

export async function useFakeOverseer(session: string): Promise<FakeOverseer> {
  const base = `${env.FAKE_OVERSEER_CONTROL}/${encodeURIComponent(session)}`;
  const dial = new URL(env.OVERSEER_URL.replace(/^ws/, 'http'));
  const realFetch = world.fetch;
  setWorld({
    fetch: (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url === dial.href) return realFetch(`${dial.href}/${encodeURIComponent(session)}`, init);
      return realFetch(input, init);
    },
  });
  // workerd pools connections per host: one the fake just closed (a refused upgrade) can fail the
  // next request with "Network connection lost". Control calls are idempotent, so retry once.
  const control = async (url: string, init?: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, init);
    } catch {
      return fetch(url, init);
    }
  };
  const post = async (path: string, body: unknown = {}) => {
    const res = await control(`${base}/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return (await res.json()) as Record<string, unknown>;
  };
  const fake: FakeOverseer = {
    session,
    messages: async () => (await (await control(`${base}/messages`)).json()) as Frame[],
    waitForMessage: async (pred, what = 'message') => {
      const msgs = await eventually(fake.messages, (ms) => ms.some(pred), what);
      return msgs.find(pred)!;
    },
    send: async (frame) => Number((await post('send', { frame })).clients ?? 0),
    sendAll: async (frames) => Number((await post('send', { frames })).clients ?? 0),
    mode: async (mode) => void (await post('mode', { mode })),
    tasks: async (tasks) => void (await post('tasks', { tasks })),
    state: async () => (await (await control(`${base}/state`)).json()) as { clients: number; tasks: Array<Record<string, unknown>>; refusedUnauthenticated: number },
    raw: async (text) => Number((await post('raw', { text })).clients ?? 0),
    restart: async () => void (await post('restart')),
    refuse: async (refuse) => void (await post('refuse', { refuse })),
    stopDelay: async (ms) => void (await post('stopdelay', { ms })),
    pool: async (limit) => post('pool', { limit }),
    purge: async () => void (await post('purge')),
    expire: async () => void (await post('expire')),
    reset: async () => void (await post('reset')),
  };
  await fake.reset();
  return fake;
}

/** Subscribes `who` to `chaturbate/<name>` and waits until it runs; its task id and pid. */
export async function subscribedAndRunning(fake: FakeOverseer, who: { token: string }, name: string): Promise<{ taskId: string; pid: number }> {
  await eventually(() => call('GET', '/api/health'), (r) => r.status === 200, 'link connected');
  await call('POST', '/api/subscriptions', { token: who.token, body: { driver: 'chaturbate', username: name } });
  const status = async () => json<{ worker_state: string; pid?: number }>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: who.token }));
  const s = await eventually(status, (x) => x.worker_state === 'running', `${name} running`);
  const task = (await fake.state()).tasks.find((t) => (t.params as Record<string, string>).source === name && t.worker_state === 'running')!;
  return { taskId: String(task.task_id), pid: s.pid! };
}
