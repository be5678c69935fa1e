// The host's `/metrics` (Prometheus text) turned into what the charts plot. Counters and
// histograms only grow, so every number here is a difference between two scrapes: per
// second, a ratio of two differences, or a quantile of the requests in between.

/** Prometheus text → Map(name → [{labels, value}]). */
export function parse(text) {
  const samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = number(m[3]);
    if (!samples.has(m[1])) samples.set(m[1], []);
    samples.get(m[1]).push({ labels, value });
  }
  return samples;
}

function number(text) {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The sum of a series over every label set (every namespace), those `keep` accepts. */
export function total(samples, name, keep = () => true) {
  return (samples.get(name) || [])
    .filter((s) => keep(s.labels))
    .reduce((sum, s) => sum + s.value, 0);
}

/** A histogram's buckets summed over its label sets: [[upper bound, cumulative count]]. */
export function buckets(samples, name) {
  const byBound = new Map();
  for (const { labels, value } of samples.get(`${name}_bucket`) || []) {
    const bound = number(labels.le);
    byBound.set(bound, (byBound.get(bound) || 0) + value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The `q` quantile of the observations a histogram got between two scrapes, interpolated
 * linearly inside its bucket as Prometheus' histogram_quantile does; null without any.
 */
export function quantile(q, before, after) {
  const counts = after.map(([bound, count], i) => [bound, count - (before[i]?.[1] ?? 0)]);
  const all = counts.length ? counts[counts.length - 1][1] : 0;
  if (!(all > 0)) return null;
  const rank = q * all;
  let lower = 0;
  let below = 0;
  for (const [bound, count] of counts) {
    if (count >= rank) {
      if (bound === Infinity) return lower;
      const inside = count - below;
      return inside > 0 ? lower + (bound - lower) * ((rank - below) / inside) : bound;
    }
    lower = bound;
    below = count;
  }
  return lower;
}

/**
 * What the charts show, from two scrapes `seconds` apart. A host restart resets its
 * counters; a negative difference gives no point (null) rather than a wrong one.
 */
export function derive(before, after, seconds) {
  const delta = (name, keep) => {
    const d = total(after, name, keep) - total(before, name, keep);
    return d >= 0 ? d : null;
  };
  const rate = (name, keep) => {
    const d = delta(name, keep);
    return d === null ? null : d / seconds;
  };
  const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);
  const requests = "wdo_request_duration_seconds";
  const commits = delta("wdo_events_per_commit_count");
  const latency = [buckets(before, requests), buckets(after, requests)];
  const ms = (q) => {
    const seconds = quantile(q, ...latency);
    return seconds === null ? null : seconds * 1000;
  };
  return {
    requests: rate(`${requests}_count`),
    errors: rate(`${requests}_count`, (l) => l.class === "5xx"),
    activations: rate("wdo_activations_total"),
    evictions: rate("wdo_evictions_total"),
    live: total(after, "wdo_live_objects"),
    commitsPerFsync: ratio(commits, delta("wdo_wal_sync_duration_seconds_count")),
    eventsPerCommit: ratio(delta("wdo_events_per_commit_sum"), commits),
    p50: ms(0.5),
    p99: ms(0.99),
  };
}
