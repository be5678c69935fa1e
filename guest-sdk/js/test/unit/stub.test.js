// Stubs (src/stub.js) without a host: what a stub sends for `fetch` and for an RPC call, and
// what it makes of the answers. The connection here records what the stub hands to the host
// and answers as the host's `stub` resource would; the host itself is tested through the
// real binary (tests/integration/js_apps.rs). Run: `node --test test/unit/` in guest-sdk/js.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fromHostResponse, makeStub, stubError, toHostRequest } from "../../src/stub.js";
import { Request } from "../../src/web/http.js";

const id = { name: "alice", toString: () => "ab".repeat(32) };

function recorder(answer) {
  const sent = [];
  return {
    sent,
    fetch(request) {
      sent.push(["fetch", request]);
      return answer(request);
    },
    call(method, payload) {
      sent.push(["call", method, payload]);
      return answer(method, payload);
    },
  };
}

test("a URL's origin is dropped: the object gets the path and query", () => {
  const request = toHostRequest("https://example.com/a/b?x=1&y=2", { method: "post", body: "hi", headers: { "X-One": "1" } });
  assert.equal(request.url, "/a/b?x=1&y=2");
  assert.equal(request.method, "POST");
  assert.deepEqual(request.headers, [["x-one", "1"], ["content-type", "text/plain;charset=UTF-8"]]);
  assert.equal(new TextDecoder().decode(request.body), "hi");
  assert.equal(toHostRequest("/inside?q").url, "/inside?q", "a bare path is taken as it is");
  assert.equal(toHostRequest(new Request("http://h/r")).method, "GET");
  assert.equal(toHostRequest(new Request("http://h/r"), { method: "DELETE" }).method, "DELETE");
  assert.equal(toHostRequest("http://h/").body.length, 0);
});

test("stub.fetch sends the request and returns the object's Response, a 101 included", async () => {
  const connection = recorder(() => ({ status: 201, headers: [["content-type", "application/json"], ["x-a", "1"]], body: new TextEncoder().encode('{"ok":true}') }));
  const stub = makeStub(id, connection);
  const response = await stub.fetch("http://any/increment?by=2", { method: "POST", body: "{}" });
  assert.equal(connection.sent[0][1].url, "/increment?by=2");
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("x-a"), "1");
  assert.deepEqual(await response.json(), { ok: true });
  const upgrade = fromHostResponse({ status: 101, headers: [["upgrade", "websocket"]], body: [] });
  assert.equal(upgrade.status, 101);
  assert.equal(upgrade.body, null);
});

test("any other property is an RPC method: arguments as a JSON array, the result decoded", async () => {
  const connection = recorder((method, payload) => JSON.stringify({ method, args: JSON.parse(payload) }));
  const stub = makeStub(id, connection);
  assert.deepEqual(await stub.increment(5), { method: "increment", args: [5] });
  assert.deepEqual(await stub.put("k", { v: [1] }, undefined), { method: "put", args: ["k", { v: [1] }, null] });
  assert.deepEqual(connection.sent[0], ["call", "increment", "[5]"]);
  assert.equal(stub.increment, stub.increment, "the same function each time");
  assert.equal(connection.sent.length, 2, "reading a property calls nothing");
});

test("a stub is not a thenable, and its id and name are its own", async () => {
  const connection = recorder(() => "null");
  const stub = makeStub(id, connection);
  assert.equal(stub.then, undefined);
  assert.equal(await stub, stub, "await stub gives the stub, without a call");
  assert.equal(stub.id, id);
  assert.equal(stub.name, "alice");
  assert.equal(stub.toJSON, undefined);
  assert.equal(stub[Symbol.iterator], undefined);
  assert.equal(connection.sent.length, 0);
});

test("the host's error becomes an Error with the host's message and code", async () => {
  const connection = recorder(() => {
    throw stubError({ code: "failed", message: "nope" });
  });
  const stub = makeStub(id, connection);
  await assert.rejects(stub.increment(1), (error) => {
    assert.equal(error.message, "nope");
    assert.equal(error.code, "failed");
    assert.equal(error.remote, true);
    return true;
  });
  for (const code of ["cycle", "timeout", "invalid-argument", "unavailable"]) {
    const error = stubError({ code, message: `m ${code}` });
    assert.equal(error.code, code);
    assert.equal(error.remote, false);
  }
});

test("arguments JSON cannot carry are refused before anything is sent", async () => {
  const connection = recorder(() => "null");
  const stub = makeStub(id, connection);
  await assert.rejects(stub.increment(1n), /arguments of increment\(\) cannot be sent as JSON/);
  assert.equal(connection.sent.length, 0);
});
