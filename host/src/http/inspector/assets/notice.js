// Messages to the operator: short notes in the corner (errors stay until closed), and the
// confirmation asked before something that cannot be undone.

import { $, h } from "./dom.js";

/** Shows `message`; `kind` is "ok" or "error". */
export function notify(message, kind = "ok") {
  const close = () => note.remove();
  const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", null, message),
    h("button", { class: "close", title: "Close", onclick: close }, "×"));
  $("#toasts").append(note);
  if (kind !== "error") setTimeout(close, 5000);
}

/** Asks before a destructive action; resolves to true if the operator confirmed. */
export function confirmAction(title, text, action) {
  return new Promise((resolve) => {
    const dialog = $("#confirm-dialog");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    const yes = $("#confirm-yes");
    const no = $("#confirm-no");
    yes.textContent = action;
    dialog.hidden = false;
    const done = (answer) => {
      dialog.hidden = true;
      yes.onclick = no.onclick = null;
      resolve(answer);
    };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    no.focus();
  });
}
