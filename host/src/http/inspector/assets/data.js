// An object's data: its key-value entries (in key order, paged with the API's cursor,
// filtered by a key prefix) and its SQL tables with their rows (paged by offset).

import { api, query } from "./api.js";
import { clip, errorBox, fill, h, sqlValue, table } from "./dom.js";

const KV_PAGE = 50;
const ROWS_PAGE = 50;

export function showKv(body, ctx) {
  const prefix = h("input", { id: "kv-prefix", type: "search", placeholder: "key prefix",
    autocomplete: "off", spellcheck: "false", "aria-label": "Key prefix" });
  const list = h("div", { id: "kv-list", class: "scroll" });
  const pager = h("div", { class: "pager" });
  fill(body,
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); cursors = [""]; load(); } },
      prefix, h("button", { type: "submit" }, "Filter")),
    list, pager);
  let cursors = [""];
  async function load() {
    let page;
    try {
      page = await api(`${ctx.base}/kv` + query({ limit: KV_PAGE,
        cursor: cursors[cursors.length - 1], prefix: prefix.value }));
    } catch (e) {
      fill(list, errorBox(e));
      return;
    }
    fill(list, page.entries.length
      ? table(["Key", "Value", "Size"], page.entries.map((entry) => [
        h("td", { class: "key" }, clip(entry.key, 80)),
        h("td", { class: "value" }, entry.value !== undefined ? clip(entry.value, 240)
          : h("span", { class: "blob" }, h("span", { class: "tag" }, "hex"),
            clip(entry.valueHex, 200))),
        h("td", { class: "num" }, entry.size),
      ]), { class: "grid" })
      : h("p", { class: "empty" }, prefix.value ? `No key starts with “${prefix.value}”.`
        : "No key-value entries."));
    fill(pager,
      h("button", { disabled: cursors.length === 1, onclick: () => { cursors.pop(); load(); } },
        "← Previous"),
      h("span", { class: "muted" }, `page ${cursors.length}`),
      h("button", { disabled: !page.cursor, onclick: () => { cursors.push(page.cursor); load(); } },
        "Next →"));
  }
  load();
}

export async function showTables(body, ctx) {
  const side = h("div", { id: "table-list", class: "table-list" });
  const rows = h("div", { id: "rows", class: "rows" },
    h("p", { class: "empty" }, "Pick a table."));
  fill(body, h("div", { class: "split" }, side, rows));
  let tables;
  try {
    tables = (await api(`${ctx.base}/sql/tables`)).tables;
  } catch (e) {
    fill(side, errorBox(e));
    return;
  }
  // The object's own tables first; the host's (`_wdo_`) after them.
  tables.sort((a, b) => a.internal - b.internal || a.name.localeCompare(b.name));
  const pick = (name) => {
    for (const el of side.children) el.classList.toggle("active", el.dataset.table === name);
    showRows(rows, ctx, name, 0);
  };
  fill(side, tables.length ? tables.map((t) =>
    h("button", { class: t.internal ? "table internal" : "table", dataset: { table: t.name },
      title: t.internal ? "the host's table" : "", onclick: () => pick(t.name) },
    h("span", null, t.name), h("span", { class: "count" }, t.rows)))
    : h("p", { class: "empty" }, "No tables."));
  const first = tables.find((t) => !t.internal);
  if (first) pick(first.name);
}

async function showRows(rows, ctx, table_, offset) {
  let page;
  try {
    page = await api(`${ctx.base}/sql/tables/${encodeURIComponent(table_)}/rows` +
      query({ offset, limit: ROWS_PAGE }));
  } catch (e) {
    fill(rows, errorBox(e));
    return;
  }
  const go = (to) => showRows(rows, ctx, table_, to);
  fill(rows,
    h("div", { class: "rows-head" }, h("b", null, table_),
      h("span", { class: "muted" }, page.rows.length
        ? ` rows ${offset + 1}–${offset + page.rows.length}` : " no rows here")),
    h("div", { class: "scroll" }, table(page.columns, page.rows.map((r) => r.map(sqlValue)),
      { class: "grid", id: "rows-table" })),
    h("div", { class: "pager" },
      h("button", { disabled: offset === 0, onclick: () => go(Math.max(0, offset - ROWS_PAGE)) },
        "← Previous"),
      h("button", { disabled: page.nextOffset === null, onclick: () => go(page.nextOffset) },
        "Next →")));
}
