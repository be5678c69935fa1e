// RPC dispatch (src/rpc.js) without a host: which names a class exposes, and how arguments
// and results cross as JSON. Run: `node --test test/unit/` in guest-sdk/js.
import assert from "node:assert/strict";
import { test } from "node:test";

import { callMethod, decodeArguments, encodeResult, rpcMethod } from "../../src/rpc.js";

class Base {
  constructor() {
    this.ctx = { storage: "private" };
    this.env = {};
  }

  inherited() {
    return "from the base class";
  }
}

class Counter extends Base {
  count = 0;
  field = () => "an instance property";

  async increment(by = 1) {
    this.count += by;
    return this.count;
  }

  nothing() {}

  sum(...values) {
    return values.reduce((a, b) => a + b, 0);
  }

  async boom(message) {
    throw new RangeError(message);
  }

  bigint() {
    return 1n;
  }

  fn() {
    return () => 1;
  }

  fetch() {}
  alarm() {}
  webSocketMessage() {}
  webSocketClose() {}
  webSocketError() {}
  _hidden() {}

  get total() {
    return this.count;
  }
}

const counter = () => new Counter();

test("a method of the class and of its base class are callable", () => {
  const object = counter();
  assert.equal(rpcMethod(object, "increment"), Counter.prototype.increment);
  assert.equal(rpcMethod(object, "inherited"), Base.prototype.inherited);
});

test("the constructor, the handlers, private names, getters, fields and unknown names are refused, each saying why", () => {
  const object = counter();
  const refused = {
    constructor: /the constructor is not a method/,
    fetch: /event handler/,
    alarm: /event handler/,
    webSocketMessage: /event handler/,
    webSocketClose: /event handler/,
    webSocketError: /event handler/,
    _hidden: /beginning with _ or #/,
    "#secret": /beginning with _ or #/,
    total: /getter, not a method/,
    field: /property of the instance/,
    ctx: /property of the instance/,
    env: /property of the instance/,
    count: /property of the instance/,
    toString: /no such method/,
    hasOwnProperty: /no such method/,
    nope: /no such method/,
    "": /non-empty string/,
  };
  for (const [name, why] of Object.entries(refused)) {
    assert.throws(() => rpcMethod(object, name), (error) => {
      assert.ok(error instanceof TypeError, name);
      assert.match(error.message, new RegExp(`^${JSON.stringify(name).replace(/[$]/g, "\\$")} is not an RPC method of Counter: `), name);
      assert.match(error.message, why, name);
      return true;
    });
  }
});

test("arguments are a JSON array; anything else is refused", () => {
  assert.deepEqual(decodeArguments("m", '[1,"a",{"b":null}]'), [1, "a", { b: null }]);
  assert.throws(() => decodeArguments("m", '{"a":1}'), /arguments of m\(\) must be a JSON array/);
  assert.throws(() => decodeArguments("m", "[1,"), /arguments of m\(\) are not JSON/);
});

test("results are JSON; undefined is null; what JSON cannot carry is refused", () => {
  assert.equal(encodeResult("m", undefined), "null");
  assert.equal(encodeResult("m", { a: [1, "x"] }), '{"a":[1,"x"]}');
  assert.throws(() => encodeResult("m", 1n), /result of m\(\) cannot be sent as JSON/);
  assert.throws(() => encodeResult("m", () => 1), /result of m\(\) \(a function\) cannot be sent as JSON/);
});

test("callMethod awaits the method with the decoded arguments and encodes its result", async () => {
  const object = counter();
  assert.equal(await callMethod(object, "increment", "[5]"), "5");
  assert.equal(await callMethod(object, "increment", "[]"), "6");
  assert.equal(object.count, 6, "the method ran on the object itself");
  assert.equal(await callMethod(object, "sum", "[1,2,3]"), "6");
  assert.equal(await callMethod(object, "nothing", "[]"), "null");
});

test("callMethod rejects with the method's own error, or the reason it cannot run", async () => {
  const object = counter();
  await assert.rejects(callMethod(object, "boom", '["too far"]'), (error) => error instanceof RangeError && error.message === "too far");
  await assert.rejects(callMethod(object, "fetch", "[]"), /event handler/);
  await assert.rejects(callMethod(object, "increment", "5"), /must be a JSON array/);
  await assert.rejects(callMethod(object, "bigint", "[]"), /cannot be sent as JSON/);
  await assert.rejects(callMethod(object, "fn", "[]"), /cannot be sent as JSON/);
});
