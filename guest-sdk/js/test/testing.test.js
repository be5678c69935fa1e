// The test hooks (`@wdo/sdk/testing`) against the real `wdo` binary ($WDO_BIN): an object
// author's test as it would be written. Run: `node --test test/` in guest-sdk/js.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { startWdo } from "@wdo/sdk/testing";

const here = dirname(fileURLToPath(import.meta.url));
let wdo;

before(async () => {
  const out = process.env.WDO_TEST_OUT_DIR ?? join(tmpdir(), "wdo-sdk-js-test");
  mkdirSync(out, { recursive: true });
  const component = join(out, "reminder-js.wasm");
  execFileSync("node", [join(here, "../bin/wdo-js.mjs"), "build", join(here, "reminder.js"),
    "--class", "Reminder", "--out", component], { stdio: "inherit" });
  wdo = await startWdo({ namespaces: { reminder: component } });
});

after(async () => {
  await wdo?.stop();
});

async function seen(name) {
  const response = await wdo.fetch(`/reminder/${name}/seen`);
  assert.equal(response.status, 200);
  return (await response.json()).byThisInstance;
}

test("evict: the next event meets a new instance, storage stays", async () => {
  const object = wdo.object("reminder", "evicted");
  assert.equal(await seen("evicted"), 1);
  assert.equal(await seen("evicted"), 2);
  const response = await wdo.fetch("/reminder/evicted/remind", {
    method: "POST", body: JSON.stringify({ text: "kept", inMs: 3_600_000 }),
  });
  assert.equal(response.status, 200);
  assert.equal((await object.info()).live, true);
  await object.evict();
  assert.equal((await object.info()).live, false);
  assert.equal(await seen("evicted"), 1);
  assert.equal((await object.storage()).get("text"), "kept");
});

test("alarm: run now, its writes are in storage, then no alarm is left", async () => {
  const object = wdo.object("reminder", "alarmed");
  const response = await wdo.fetch("/reminder/alarmed/remind", {
    method: "POST", body: JSON.stringify({ text: "stand up", inMs: 3_600_000 }),
  });
  const { scheduled } = await response.json();
  assert.equal(await object.alarm(), scheduled);
  assert.equal(await object.runAlarm(), true);
  const storage = await object.storage();
  assert.deepEqual([...storage.keys()], ["reminded", "text"]);
  assert.deepEqual(storage.get("reminded"), { text: "stand up" });
  assert.equal(await object.alarm(), null);
  assert.equal(await object.runAlarm(), false);
  assert.deepEqual([...(await object.storage({ prefix: "rem" })).keys()], ["reminded"]);
});

test("an object that never ran is an error that says so", async () => {
  await assert.rejects(wdo.object("reminder", "never").storage(), /404/);
});
