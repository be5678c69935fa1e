// The SQL console: one statement against the object's database, in its serial order.
// Read-only unless "write" is ticked (then the API gets `write: true`); every run is logged
// by the host with the client's address.

import { api } from "./api.js";
import { errorBox, fill, h, sqlValue, table } from "./dom.js";

/** What was typed, kept while the operator moves between tabs and objects. */
let typed = "";

export function showConsole(body, ctx) {
  const input = h("textarea", { id: "sql-input", rows: 5, spellcheck: "false",
    placeholder: "SELECT name FROM sqlite_schema", "aria-label": "SQL statement" });
  input.value = typed;
  input.addEventListener("input", () => { typed = input.value; });
  const write = h("input", { id: "sql-write", type: "checkbox" });
  const maxRows = h("input", { id: "sql-max-rows", type: "number", min: 1, max: 1000,
    value: "100", "aria-label": "Most rows" });
  const result = h("div", { id: "sql-result", class: "sql-result" });
  const runButton = h("button", { id: "sql-run", type: "submit", class: "primary" }, "Run");
  const submit = async (event) => {
    event?.preventDefault();
    const sql = input.value.trim();
    if (!sql) return;
    runButton.disabled = true;
    fill(result, h("p", { class: "muted" }, "running…"));
    try {
      const answer = await api(`${ctx.base}/sql`, { method: "POST",
        json: { sql, write: write.checked, maxRows: Number(maxRows.value) || 100 } });
      showResult(result, answer);
      if (write.checked) ctx.refresh();
    } catch (e) {
      fill(result, errorBox(e));
    } finally {
      runButton.disabled = false;
    }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
  });
  fill(body,
    h("form", { class: "console", onsubmit: submit },
      input,
      h("div", { class: "toolbar" },
        runButton,
        h("span", { class: "muted small" }, "Ctrl+Enter"),
        h("label", { class: "check", title: "Without it a statement that writes is refused" },
          write, " write (allow changes)"),
        h("label", { class: "check" }, "most rows ", maxRows))),
    result);
  input.focus();
}

function showResult(result, answer) {
  const facts = [`${answer.rows.length} row${answer.rows.length === 1 ? "" : "s"}`];
  if (answer.truncated) facts.push("more rows were left out (raise most rows)");
  if (answer.changes) facts.push(`${answer.changes} row${answer.changes === 1 ? "" : "s"} changed`);
  fill(result,
    h("p", { class: "muted", id: "sql-facts" }, facts.join(" · ")),
    answer.columns.length
      ? h("div", { class: "scroll" }, table(answer.columns,
        answer.rows.map((r) => r.map(sqlValue)), { class: "grid", id: "sql-table" }))
      : null);
}
