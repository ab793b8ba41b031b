/**
 * What Edgeplane measures (org-scoped metrics are the ones org admins may read for their org): each metric's name, its labels (in a fixed order: Analytics Engine keeps
 * them as positional blobs), and what a dashboard chart calls it. Recording an unknown metric or
 * label is a type error, so the catalog is the whole truth.
 *
 *   recordMetric(env, ctx, 'play.sessions', { outcome: 'refused', reason: 'no_seat' }, { org: 7 });
 */
export const METRICS = {
  'http.requests': { labels: ['route', 'method', 'status'], title: 'Requests', unit: 'requests', orgScoped: false },
  'auth.login_failures': { labels: ['product'], title: 'Failed sign-ins', unit: 'failures', orgScoped: false },
  'play.sessions': { labels: ['outcome', 'reason'], title: 'Play sessions', unit: 'sessions', orgScoped: true },
  'nodes.heartbeats': { labels: ['node'], title: 'Node heartbeats', unit: 'heartbeats', orgScoped: true },
  'dvr.recordings': { labels: ['event', 'driver'], title: 'Recordings', unit: 'recordings', orgScoped: false },
  'dvr.stored_bytes': { labels: ['driver'], title: 'Recorded bytes stored', unit: 'bytes', orgScoped: false },
  'dvr.overseer_reconnects': { labels: ['overseer'], title: 'Overseer reconnects', unit: 'reconnects', orgScoped: false },
} as const satisfies Record<string, { labels: readonly string[]; title: string; unit: string; orgScoped: boolean }>;

export type MetricName = keyof typeof METRICS;
export type MetricLabels<N extends MetricName> = Partial<Record<(typeof METRICS)[N]['labels'][number], string | number>>;
export const METRIC_NAMES = Object.keys(METRICS) as [MetricName, ...MetricName[]];

export function isMetric(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** Label values in catalog order; missing ones are empty. Bounded so a label cannot carry a payload. */
export function labelValues<N extends MetricName>(name: N, labels: MetricLabels<N>): string[] {
  return METRICS[name].labels.map((k) => String((labels as Record<string, string | number | undefined>)[k] ?? '').slice(0, 96));
}

/** The canonical label string of the local store: `k=v` pairs in catalog order, `&`-joined. */
export function labelKey<N extends MetricName>(name: N, labels: MetricLabels<N>): string {
  const values = labelValues(name, labels);
  return METRICS[name].labels.map((k, i) => `${k}=${encodeURIComponent(values[i]!)}`).join('&');
}

export function parseLabelKey(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of key.split('&')) {
    if (!pair) continue;
    const [k, v = ''] = pair.split('=');
    out[k!] = decodeURIComponent(v);
  }
  return out;
}
