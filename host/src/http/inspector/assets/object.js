// The object pane: one object's summary (refreshed every 2 s; reading it neither activates
// nor waits for the object), the actions on it (evict, run alarm, export, delete data) and
// its tabs: key-value entries, SQL tables, SQL console, alarm, sockets.

import { api, paths } from "./api.js";
import { ago, bytes, errorBox, fill, h, shortId, when } from "./dom.js";
import { confirmAction, notify } from "./notice.js";
import { showConsole } from "./console.js";
import { showKv, showTables } from "./data.js";
import { showAlarm, showSockets } from "./ops.js";

const TABS = [
  ["kv", "Key-value", showKv],
  ["tables", "SQL tables", showTables],
  ["console", "SQL console", showConsole],
  ["alarm", "Alarm", showAlarm],
  ["sockets", "Sockets", showSockets],
];

let refreshing = null;

/**
 * Shows object `target` (`name` or `@id`) of `ns` into `pane`; `tabLink(tab)` is the URL of
 * one of its tabs. Returns `{ tab(name) }` to switch tabs without building the pane again.
 */
export function showObject(pane, ns, target, tabLink) {
  clearInterval(refreshing);
  const ctx = { ns, target, base: paths.object(ns, target) };
  const summary = h("div", { class: "summary", id: "summary" });
  const body = h("div", { class: "tab-body", id: "tab-body" });
  const tabs = h("nav", { class: "tabs" }, TABS.map(([id, label]) =>
    h("a", { id: `tab-${id}`, class: "tab", href: tabLink(id), dataset: { tab: id } }, label)));
  const button = (id, label, action, kind = "") =>
    h("button", { id, class: kind, onclick: (e) => run(e.currentTarget, action) }, label);
  fill(pane,
    h("div", { class: "object-head" },
      h("div", null,
        h("h2", { id: "object-title" },
          target.startsWith("@") ? `@${shortId(target.slice(1))}` : target),
        h("div", { class: "muted small" }, ns, " · ", h("code", { id: "object-id" }, "…"))),
      h("div", { class: "actions" },
        button("evict", "Evict", () => evict(ctx)),
        button("run-alarm", "Run alarm", () => runAlarm(ctx)),
        button("export", "Export .sqlite", () => exportDatabase(ctx), "primary"),
        button("delete-data", "Delete data…", () => deleteData(ctx), "danger"))),
    summary, tabs, body);

  const refresh = async () => {
    try {
      showSummary(summary, await api(ctx.base), pane);
    } catch (e) {
      fill(summary, errorBox(e));
    }
  };
  ctx.refresh = refresh;
  refresh();
  refreshing = setInterval(() => {
    if (pane.isConnected && summary.isConnected) refresh();
  }, 2000);

  let current = null;
  return {
    tab(id) {
      const entry = TABS.find(([tab]) => tab === id) || TABS[0];
      if (current === entry[0]) return;
      current = entry[0];
      for (const link of tabs.children) link.classList.toggle("active", link.dataset.tab === current);
      fill(body);
      entry[2](body, ctx);
    },
  };
}

function showSummary(summary, o, pane) {
  const id = pane.querySelector("#object-id");
  if (id) id.textContent = o.id;
  const card = (label, value, note, cls = "") =>
    h("div", { class: `fact ${cls}` }, h("span", { class: "label" }, label),
      h("span", { class: "value" }, value), h("span", { class: "note" }, note || ""));
  fill(summary,
    card("Size", bytes(o.sizeBytes), "database and WAL"),
    card("Live", o.live ? "yes" : "no", o.live ? "an actor runs it" : "evicted or idle",
      o.live ? "good" : ""),
    card("Last write", o.lastWriteMs ? ago(o.lastWriteMs) : "—", when(o.lastWriteMs)),
    card("Alarm", o.alarmMs ? ago(o.alarmMs) : "none", o.alarmMs ? when(o.alarmMs) : "",
      o.alarmMs ? "warn" : ""),
    card("Sockets", String(o.sockets), "WebSockets open"));
}

/** Runs a button's action with the button disabled meanwhile; errors are shown. */
async function run(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (e) {
    notify(e.message, "error");
  } finally {
    button.disabled = false;
  }
}

async function evict(ctx) {
  const { evicted } = await api(`${ctx.base}/evict`, { method: "POST" });
  notify(evicted ? "Evicted: it finishes what is queued, then stops." : "It was not live.");
  ctx.refresh();
}

async function runAlarm(ctx) {
  const answer = await api(`${ctx.base}/alarm/run`, { method: "POST" });
  notify(answer.ran ? `Alarm ran; next alarm: ${when(answer.alarmAfter)}` :
    `Nothing ran: ${answer.reason}`);
  ctx.refresh();
}

/** The export needs the admin token, so it is fetched, then saved from a blob. */
async function exportDatabase(ctx) {
  const response = await api(`${ctx.base}/export`, { as: "response" });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || `${ctx.ns}.sqlite`;
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  notify(`Exported ${name} (${bytes(blob.size)})`);
}

async function deleteData(ctx) {
  const sure = await confirmAction(`Delete the data of ${ctx.target}?`,
    "Its database becomes empty and its alarm is removed. This cannot be undone " +
    "(export it first to keep a copy).", "Delete data");
  if (!sure) return;
  await api(ctx.base, { method: "DELETE" });
  notify("Deleted: the object's database is empty.");
  ctx.refresh();
}
