// The inspector's entry: the live charts, the namespaces, and the route in the URL's hash,
// `#/<namespace>/<object>/<tab>` (the object as `name` or `@id`), so a view can be
// bookmarked, reloaded and gone back to.

import { showTokenState } from "./api.js";
import { $, fill, h } from "./dom.js";
import { startLive } from "./live.js";
import { markNamespace, showNamespaces } from "./namespaces.js";
import { showObject } from "./object.js";
import { showObjects } from "./objects.js";

const enc = encodeURIComponent;

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [ns, target, tab] = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { ns: ns || null, target: target || null, tab: tab || "kv" };
}

function link(ns, target, tab) {
  return `#/${[ns, target, tab].filter(Boolean).map(enc).join("/")}`;
}

const shown = { ns: undefined, target: undefined, objects: null, object: null };

function render() {
  const { ns, target, tab } = route();
  const namespaces = $("#namespace-list");
  if (shown.ns !== ns) {
    shown.ns = ns;
    shown.target = undefined;
    markNamespace(namespaces, ns);
    shown.objects = ns
      ? showObjects($("#objects"), ns, (to) => { location.hash = link(ns, to, route().tab); })
      : null;
    if (!ns) fill($("#objects"), h("p", { class: "empty" }, "Pick a namespace."));
  }
  if (shown.target !== target) {
    shown.target = target;
    shown.object = target
      ? showObject($("#object"), ns, target, (to) => link(ns, target, to))
      : null;
    if (!target) {
      fill($("#object"), h("div", { class: "empty big" },
        h("p", null, ns ? "Pick an object, or search for one by name."
          : "Pick a namespace, then an object."),
        h("p", { class: "muted" }, "Objects are listed once they have written something; " +
          "one known only by id opens with @<id> in the search box.")));
    }
  }
  shown.objects?.select(target);
  shown.object?.tab(tab);
}

showTokenState();
startLive($("#charts"));
showNamespaces($("#namespace-list"), route().ns);
// Reloads change a namespace's code version: the sidebar follows.
setInterval(() => showNamespaces($("#namespace-list"), route().ns), 10000);
window.addEventListener("hashchange", render);
render();
