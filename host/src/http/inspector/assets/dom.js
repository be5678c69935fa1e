// DOM helpers: elements are built from data (never from HTML strings, so nothing an object
// stored can become markup), plus the formatting every view shares.

/** `h("td", {class: "num"}, "12")`: an element with attributes, handlers and children. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return append(el, children);
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A table: `columns` are header labels, `rows` arrays of cells (nodes or text). */
export function table(columns, rows, props = {}) {
  return h(
    "table",
    props,
    h("thead", null, h("tr", null, columns.map((c) => h("th", null, c)))),
    h("tbody", null, rows.map((row) => h("tr", null, row.map((cell) => cellOf(cell))))),
  );
}

function cellOf(cell) {
  if (cell instanceof Node && cell.nodeName === "TD") return cell;
  return h("td", null, cell);
}

/** An SQL value as the API gives it: null, a number, text, or `{blobHex}`. */
export function sqlValue(value) {
  if (value === null) return h("span", { class: "null" }, "NULL");
  if (typeof value === "object" && value.blobHex !== undefined) {
    const hex = value.blobHex;
    return h("span", { class: "blob", title: `${hex.length / 2} bytes` },
      `x'${hex.length > 48 ? hex.slice(0, 48) + "…" : hex}'`);
  }
  if (typeof value === "number") return h("span", { class: "num" }, String(value));
  return clip(String(value), 160);
}

/** Text cut to `max` characters, the whole of it in the tooltip. */
export function clip(text, max) {
  if (text.length <= max) return text;
  return h("span", { title: text }, text.slice(0, max) + "…");
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

const pad = (n) => String(n).padStart(2, "0");

/** Unix milliseconds as local date and time. */
export function when(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix milliseconds relative to now: "12 s ago", "in 3 min". */
export function ago(ms) {
  if (ms === null || ms === undefined) return "";
  const seconds = Math.round((ms - Date.now()) / 1000);
  const size = Math.abs(seconds);
  const text = size < 60 ? `${size} s` : size < 3600 ? `${Math.round(size / 60)} min`
    : size < 86400 ? `${Math.round(size / 3600)} h` : `${Math.round(size / 86400)} d`;
  return seconds > 0 ? `in ${text}` : size < 2 ? "just now" : `${text} ago`;
}

/** A short form of a 64-hex id. */
export function shortId(id) {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id;
}

/** The box an error message is shown in, where the failed thing would have been. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, error.message || String(error));
}
