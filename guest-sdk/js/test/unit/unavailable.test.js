// The stand-ins a Worker's bundle gets for the object-only WIT interfaces
// (bin/unavailable.mjs), read from the repository's WIT. Run: `node --test test/unit/`.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { interfaceExports, unavailableModule } from "../../bin/unavailable.mjs";

const wit = join(dirname(fileURLToPath(import.meta.url)), "../../../../wit");

test("an interface's functions and resources are named as componentize-qjs names them", () => {
  const storage = interfaceExports(wit, "storage");
  assert.ok(storage.functions.includes("getMany") && storage.functions.includes("list") && storage.functions.includes("deleteAll"));
  assert.deepEqual(storage.resources, ["Transaction"]);
  assert.deepEqual(interfaceExports(wit, "state").functions, ["id", "name", "namespace"]);
  assert.equal(interfaceExports(wit, "no-such-interface"), null);
});

test("a stand-in throws when used, naming what only objects have", async () => {
  const source = unavailableModule(wit, "wdo:object/storage@0.1.0");
  const module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  assert.throws(() => module.get("k"), /storage.get\(\) is only available inside a Durable Object, not in a Worker/);
  assert.throws(() => module.delete("k"), /storage.delete\(\)/);
  assert.throws(() => module.Transaction.begin(), /storage.Transaction.begin is only available inside a Durable Object/);
  assert.throws(() => unavailableModule(wit, "wdo:object/nothing@0.1.0"), /neither in the worker world nor in/);
});
