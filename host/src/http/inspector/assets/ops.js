// An object's alarm (show, set, delete, run now) and its WebSockets (count, tags,
// attachments; the host owns them, so listing them does not wake the object).

import { api } from "./api.js";
import { ago, clip, errorBox, fill, h, table, when } from "./dom.js";
import { notify } from "./notice.js";

const pad = (n) => String(n).padStart(2, "0");

/** A `datetime-local` value for Unix milliseconds, in local time. */
function localInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export async function showAlarm(body, ctx) {
  const now = h("div", { id: "alarm-now", class: "alarm-now" });
  const at = h("input", { id: "alarm-at", type: "datetime-local", step: 1,
    value: localInput(Date.now() + 60000), "aria-label": "Alarm time" });
  const act = (what) => async () => {
    try {
      await what();
    } catch (e) {
      notify(e.message, "error");
    }
    load();
    ctx.refresh();
  };
  const set = act(async () => {
    const scheduledMs = new Date(at.value).getTime();
    if (!Number.isFinite(scheduledMs)) throw new Error("pick a date and time for the alarm");
    await api(`${ctx.base}/alarm`, { method: "PUT", json: { scheduledMs } });
    notify(`Alarm set for ${when(scheduledMs)}`);
  });
  const remove = act(async () => {
    const { deleted } = await api(`${ctx.base}/alarm`, { method: "DELETE" });
    notify(deleted ? "Alarm deleted." : "There was no alarm.");
  });
  const runNow = act(async () => {
    const answer = await api(`${ctx.base}/alarm/run`, { method: "POST" });
    notify(answer.ran ? "Alarm ran." : `Nothing ran: ${answer.reason}`);
  });
  fill(body, now,
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); set(); } },
      at, h("button", { type: "submit", id: "alarm-set" }, "Set alarm"),
      h("button", { type: "button", id: "alarm-delete", onclick: remove }, "Delete alarm"),
      h("button", { type: "button", id: "alarm-run", onclick: runNow }, "Run now")),
    h("p", { class: "muted small" }, "Setting an alarm stores it in the object's database; " +
      "it fires at that time (or at once if past) and calls the object's alarm handler."));
  async function load() {
    try {
      const { scheduledMs } = await api(`${ctx.base}/alarm`);
      fill(now, scheduledMs === null ? h("span", { class: "muted" }, "No alarm is set.")
        : [h("b", null, when(scheduledMs)), " ", h("span", { class: "muted" }, ago(scheduledMs))]);
    } catch (e) {
      fill(now, errorBox(e));
    }
  }
  load();
}

export async function showSockets(body, ctx) {
  fill(body, h("p", { class: "muted" }, "loading…"));
  let answer;
  try {
    answer = await api(`${ctx.base}/sockets`);
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const attachment = (a) => (a === null ? h("span", { class: "null" }, "none")
    : a.text !== undefined ? clip(a.text, 200) : h("span", { class: "blob" }, clip(a.hex, 200)));
  fill(body,
    h("p", { id: "socket-count" }, h("b", null, String(answer.count)),
      ` WebSocket${answer.count === 1 ? "" : "s"} open`),
    answer.count ? h("div", { class: "scroll" }, table(["Socket", "Tags", "Attachment"],
      answer.sockets.map((s) => [String(s.id),
        s.tags.length ? s.tags.map((t) => h("span", { class: "tag" }, t)) : h("span", { class: "null" }, "none"),
        attachment(s.attachment)]), { class: "grid" })) : null);
}
