// The middle pane: the objects of one namespace, paged with the API's cursor and read
// again every 5 s, and the search box: typing lists the objects whose name contains the
// text (`?name=`); Enter opens the object named exactly so, or `@<id>`.

import { api, paths, query } from "./api.js";
import { ago, bytes, errorBox, fill, h, shortId } from "./dom.js";

const PAGE = 50;
/** The page shown is read again this often (liveness, sizes and alarms change). */
const REFRESH_MS = 5000;

let refreshing = null;

/** Shows the objects of `ns` into `pane`; `open(target)` opens one (`name` or `@id`). */
export function showObjects(pane, ns, open) {
  clearInterval(refreshing);
  const input = h("input", {
    id: "object-search", type: "search", autocomplete: "off", spellcheck: "false",
    placeholder: "name, part of one, or @id",
    "aria-label": "Search objects by name",
  });
  const list = h("div", { id: "object-list", class: "object-list" });
  const pager = h("div", { class: "pager" });
  fill(pane,
    h("div", { class: "pane-head" },
      h("h2", null, "Objects ", h("span", { class: "muted" }, "in "), ns),
      h("button", { class: "icon", title: "Reload the list", onclick: () => load() }, "↻")),
    h("form", {
      class: "search",
      onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (text) open(text);
      },
    }, input, h("button", { id: "object-open", type: "submit" }, "Open")),
    list, pager);

  // Cursors of the pages before the one shown ("" for the first).
  let cursors = [""];
  let timer = null;
  let shown = 0;
  let selected = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      cursors = [""];
      load();
    }, 250);
  });

  async function load() {
    const text = input.value.trim();
    const byId = text.startsWith("@");
    const name = byId ? "" : text;
    const ticket = ++shown;
    let page;
    try {
      page = await api(`${paths.namespace(ns)}/objects` +
        query({ limit: PAGE, cursor: cursors[cursors.length - 1], name }));
    } catch (e) {
      fill(list, errorBox(e));
      return;
    }
    if (ticket !== shown) return; // a later load answered first
    fill(list, page.objects.length
      ? page.objects.map((o) => row(o, open))
      : h("p", { class: "empty" }, name ? `No object's name contains “${name}”.`
        : byId ? "Press Enter to open this id." : "No objects yet: an object is listed " +
          "once it has written something."));
    mark(list, selected);
    const pageNo = cursors.length;
    fill(pager,
      h("button", { disabled: pageNo === 1, onclick: () => { cursors.pop(); load(); } },
        "← Previous"),
      h("span", { class: "muted" }, `page ${pageNo}`),
      h("button", {
        id: "objects-next", disabled: !page.cursor,
        onclick: () => { cursors.push(page.cursor); load(); },
      }, "Next →"));
  }
  load();
  refreshing = setInterval(() => {
    if (list.isConnected) load();
  }, REFRESH_MS);
  return {
    select: (target) => {
      selected = target;
      mark(list, target);
    },
  };
}

function row(o, open) {
  const target = o.name ?? `@${o.id}`;
  const facts = [
    h("code", { title: o.id }, shortId(o.id)),
    o.lastWriteMs ? ` · wrote ${ago(o.lastWriteMs)}` : "",
    o.alarmMs ? h("span", { class: "tag alarm" }, `alarm ${ago(o.alarmMs)}`) : "",
    o.sockets ? h("span", { class: "tag" }, `${o.sockets} socket${o.sockets > 1 ? "s" : ""}`)
      : "",
  ];
  return h("a", {
    class: "object-row", href: "#", dataset: { target },
    onclick: (event) => {
      event.preventDefault();
      open(target);
    },
  },
  h("span", { class: o.live ? "dot live" : "dot", title: o.live ? "live" : "not live" }),
  h("span", { class: "object-main" },
    h("span", { class: "object-name" }, o.name ?? h("i", null, "(by id)")),
    h("span", { class: "object-facts" }, facts)),
  h("span", { class: "object-size" }, bytes(o.sizeBytes)));
}

/** Highlights the row of `target` if it is on the page. */
export function mark(list, target) {
  for (const el of list.querySelectorAll(".object-row")) {
    el.classList.toggle("active", el.dataset.target === target);
  }
}
