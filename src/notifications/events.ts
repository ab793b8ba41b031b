/**
 * The webhook events: their names, who may subscribe to which, and how one is rendered for each
 * payload format.
 *
 *   const body = render('slack', event);   // the exact bytes that are signed and POSTed
 *
 * | event | audience | data |
 * | --- | --- | --- |
 * | `recording.started` | the source's subscribers, platform | `source`, `recording`, `file`, `started_at` |
 * | `recording.stored` | the source's subscribers, platform | `source`, `recording_id`, `path`, `bytes`, `duration_seconds`, `playback_url` |
 * | `source.errored` | the source's subscribers, platform | `source`, `error` |
 * | `source.recovered` | the source's subscribers, platform | `source` |
 * | `session.started` | the org's admins, platform | `org_id`, `session_id`, `user_id`, `game_id` |
 * | `session.ended` | the org's admins, platform | `org_id`, `session_id`, `user_id`, `game_id`, `reason` |
 * | `proof.pending_review` | the org's admins, platform | `org_id`, `user_id`, `game_id`, `entry_id`, `kind` |
 * | `webhook.test` | the one endpoint ("send test") | `endpoint_id`, `message` |
 *
 * Formats: `standard` is the Standard Webhooks payload `{ type, timestamp, data }`; `discord` is an
 * execute-webhook body `{ content, embeds }`; `slack` an incoming-webhook body `{ text, blocks }`.
 */
export const DVR_EVENTS = ['recording.started', 'recording.stored', 'source.errored', 'source.recovered'] as const;
export const CONSOLE_EVENTS = ['session.started', 'session.ended', 'proof.pending_review'] as const;
export const EVENT_TYPES = [...DVR_EVENTS, ...CONSOLE_EVENTS] as const;
export const FORMATS = ['standard', 'discord', 'slack'] as const;
export const SCOPES = ['user', 'org', 'platform'] as const;

export type DvrEventType = (typeof DVR_EVENTS)[number];
export type ConsoleEventType = (typeof CONSOLE_EVENTS)[number];
export type EventType = (typeof EVENT_TYPES)[number];
export type Format = (typeof FORMATS)[number];
export type Scope = (typeof SCOPES)[number];

/** Which events an endpoint of each scope may subscribe to. */
export const EVENTS_BY_SCOPE: Record<Scope, readonly EventType[]> = {
  user: DVR_EVENTS,
  org: CONSOLE_EVENTS,
  platform: EVENT_TYPES,
};

export interface SourceKey {
  driver: string;
  username: string;
}

/** What a producer hands to `notify`: DVR events name their source, console events their org. */
export type Notification =
  | { type: DvrEventType; source: SourceKey; data?: Record<string, unknown> }
  | { type: ConsoleEventType; orgId: number; data?: Record<string, unknown> };

/** One event as delivered (the same for every endpoint it fans out to). */
export interface WebhookEvent {
  type: EventType | 'webhook.test';
  timestamp: string;
  data: Record<string, unknown>;
}

function sourceName(data: Record<string, unknown>): string {
  const s = data.source as Partial<SourceKey> | undefined;
  return s && typeof s.driver === 'string' && typeof s.username === 'string' ? `${s.driver}/${s.username}` : 'a source';
}

/** One line a person reads in a chat channel. */
export function summary(e: WebhookEvent): string {
  const d = e.data;
  switch (e.type) {
    case 'recording.started':
      return `Recording started: ${sourceName(d)}`;
    case 'recording.stored':
      return `Recording stored: ${sourceName(d)}${typeof d.path === 'string' ? ` — ${d.path}` : ''}`;
    case 'source.errored':
      return `Source errored: ${sourceName(d)}${typeof d.error === 'string' && d.error ? ` — ${d.error}` : ''}`;
    case 'source.recovered':
      return `Source recovered: ${sourceName(d)}`;
    case 'session.started':
      return `Play session ${String(d.session_id ?? '')} started in org ${String(d.org_id ?? '')}`;
    case 'session.ended':
      return `Play session ${String(d.session_id ?? '')} ended in org ${String(d.org_id ?? '')}${typeof d.reason === 'string' ? ` (${d.reason})` : ''}`;
    case 'proof.pending_review':
      return `A ${typeof d.kind === 'string' ? d.kind : ''} ownership proof is waiting for review in org ${String(d.org_id ?? '')}`.replace('A  ', 'An ');
    case 'webhook.test':
      return 'Test event from Edgeplane: this endpoint receives webhooks.';
  }
}

/** Scalar fields of `data` as name/value pairs (nested `source` flattened to `driver/username`). */
function fields(d: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'source') out.push(['source', sourceName(d)]);
    else if (v !== null && v !== undefined && typeof v !== 'object') out.push([k, String(v)]);
  }
  return out.slice(0, 10);
}

export function render(format: Format, e: WebhookEvent): string {
  if (format === 'discord') {
    const url = typeof e.data.playback_url === 'string' && /^https?:\/\//.test(e.data.playback_url) ? e.data.playback_url : undefined;
    return JSON.stringify({
      content: summary(e),
      embeds: [
        {
          title: e.type,
          description: summary(e),
          ...(url ? { url } : {}),
          timestamp: e.timestamp,
          fields: fields(e.data).map(([name, value]) => ({ name, value: value.slice(0, 1024), inline: true })),
        },
      ],
    });
  }
  if (format === 'slack') {
    const lines = fields(e.data).map(([k, v]) => `*${k}*: ${v}`);
    return JSON.stringify({
      text: summary(e),
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: summary(e) } },
        ...(lines.length ? [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 3000) } }] : []),
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${e.type} · ${e.timestamp}` }] },
      ],
    });
  }
  return JSON.stringify({ type: e.type, timestamp: e.timestamp, data: e.data });
}
