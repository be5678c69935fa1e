// The live charts: `/metrics` every 2 s, each chart fed with what changed since the
// previous scrape (metrics.js), summed over every namespace.

import { api } from "./api.js";
import { LineChart } from "./chart.js";
import { $, h, fill } from "./dom.js";
import { derive, parse } from "./metrics.js";

const EVERY_MS = 2000;
const COLORS = { sky: "#38bdf8", red: "#f87171", green: "#34d399", amber: "#fbbf24",
  violet: "#a78bfa", pink: "#f472b6" };

/** "2.50" → "2.5", "3.00" → "3"; "50" stays. */
const trim = (text) => (text.includes(".") ? text.replace(/\.?0+$/, "") : text);
const rate = (v) => (v >= 100 ? v.toFixed(0) : trim(v.toFixed(v >= 10 ? 1 : 2)));
const millis = (v) => (v >= 100 ? `${v.toFixed(0)}` : trim(v.toPrecision(2)));

/** What each chart plots, and the words that say so on the page. */
const CHARTS = [
  {
    id: "requests",
    title: "Requests / s",
    about: "Requests answered per second on the public listener: the change of " +
      "wdo_request_duration_seconds_count (every status class), and of its 5xx class.",
    series: [{ label: "all", color: COLORS.sky, key: "requests" },
      { label: "5xx", color: COLORS.red, key: "errors" }],
    format: rate,
  },
  {
    id: "activations",
    title: "Activations / s",
    about: "Objects activated per second (wdo_activations_total) and evicted " +
      "(wdo_evictions_total); live now is wdo_live_objects.",
    series: [{ label: "activated", color: COLORS.green, key: "activations" },
      { label: "evicted", color: COLORS.amber, key: "evictions" }],
    format: rate,
    extra: (d) => `live ${d.live}`,
  },
  {
    id: "commits",
    title: "Commits per fsync",
    about: "Group commit: batches committed (wdo_events_per_commit_count, read-only " +
      "batches included) per WAL fsync (wdo_wal_sync_duration_seconds_count), and events " +
      "per commit (its _sum over its _count). Namespaces with relaxed durability never fsync.",
    series: [{ label: "commits / fsync", color: COLORS.violet, key: "commitsPerFsync" },
      { label: "events / commit", color: COLORS.sky, key: "eventsPerCommit" }],
    format: rate,
  },
  {
    id: "latency",
    title: "Request latency, ms",
    about: "p50 and p99 of the requests answered since the previous scrape, from the " +
      "buckets of wdo_request_duration_seconds (interpolated inside a bucket).",
    series: [{ label: "p50", color: COLORS.sky, key: "p50" },
      { label: "p99", color: COLORS.pink, key: "p99" }],
    format: millis,
    floor: 1,
    unit: " ms",
  },
];

/** Builds the chart cards into `container` and polls until the page closes. */
export function startLive(container) {
  const charts = CHARTS.map((spec) => {
    const canvas = h("canvas", { id: `chart-${spec.id}`, class: "chart" });
    const legend = h("div", { class: "legend", id: `legend-${spec.id}` });
    container.append(h("figure", { class: "card chart-card", title: spec.about },
      h("figcaption", null, h("span", { class: "chart-title" }, spec.title), legend),
      canvas,
      h("p", { class: "about" }, spec.about)));
    const chart = new LineChart(canvas, { series: spec.series, format: spec.format,
      floor: spec.floor ?? 1, seconds: EVERY_MS / 1000 });
    return { spec, chart, legend };
  });
  let previous = null;
  const status = $("#host-status");
  const poll = async () => {
    try {
      const text = await api("/metrics", { as: "text" });
      const now = { samples: parse(text), at: performance.now() };
      if (previous) {
        const derived = derive(previous.samples, now.samples, (now.at - previous.at) / 1000);
        for (const { spec, chart, legend } of charts) {
          chart.push(spec.series.map((s) => derived[s.key]));
          showLegend(spec, legend, derived);
        }
      }
      previous = now;
      status.className = "status ok";
      status.textContent = `live · /metrics every ${EVERY_MS / 1000} s`;
    } catch (e) {
      status.className = "status down";
      status.textContent = e.message;
    }
    setTimeout(poll, EVERY_MS);
  };
  poll();
}

function showLegend(spec, legend, derived) {
  fill(legend, spec.series.map((s) => {
    const v = derived[s.key];
    return h("span", { class: "key" },
      h("i", { style: { background: s.color } }),
      `${s.label} `,
      h("b", { class: "value", dataset: { series: s.key } },
        v === null ? "—" : `${spec.format(v)}${spec.unit || ""}`));
  }), spec.extra ? h("span", { class: "key extra" }, spec.extra(derived)) : null);
}
