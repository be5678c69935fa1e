// The sidebar: the host's namespaces, each with the version of its code (the component's
// SHA-256 and when it was loaded).

import { api } from "./api.js";
import { errorBox, fill, h, when } from "./dom.js";

/** What the list shows now, to leave it alone (hover, focus) when nothing changed. */
let shown = "";

/** Lists the namespaces into `list`, marking `current`; links go to `#/<namespace>`. */
export async function showNamespaces(list, current) {
  let namespaces;
  try {
    namespaces = (await api("/v1/namespaces")).namespaces;
  } catch (e) {
    shown = "";
    fill(list, h("li", null, errorBox(e)));
    return;
  }
  const text = JSON.stringify(namespaces);
  if (text === shown) return markNamespace(list, current);
  shown = text;
  fill(list, namespaces.map((ns) => {
    const { hash, loadedMs } = ns.version;
    return h("li", null, h("a", {
      href: `#/${encodeURIComponent(ns.name)}`,
      class: ns.name === current ? "namespace active" : "namespace",
      dataset: { namespace: ns.name },
      title: `${ns.component}\ncode SHA-256 ${hash}\nloaded ${when(loadedMs)}`,
    },
    h("span", { class: "ns-name" }, ns.name),
    h("span", { class: "ns-meta" },
      h("code", null, hash.slice(0, 10)), ` · loaded ${loaded(loadedMs)}`)));
  }));
}

/** Marks `current` in a list already shown. */
export function markNamespace(list, current) {
  for (const link of list.querySelectorAll("a.namespace")) {
    link.classList.toggle("active", link.dataset.namespace === current);
  }
}

/** The time of day if it is today, else the date and time. */
function loaded(ms) {
  const text = when(ms);
  return text.slice(0, 10) === when(Date.now()).slice(0, 10) ? text.slice(11) : text;
}
