// What fetch says of wasi:http error codes (src/web/fetch-errors.js), without a host.

import assert from "node:assert/strict";
import { test } from "node:test";

import { describeErrorCode, reasonPhrase } from "../../src/web/fetch-errors.js";

test("a refused host names the host and allowed-outbound-hosts", () => {
  const { refused, message } = describeErrorCode("http://api.example.com:8080/x", { tag: "HTTP-request-denied" });
  assert.equal(refused, true);
  assert.equal(message, "the host refused it: api.example.com:8080 is not in allowed-outbound-hosts");
});

test("transport failures say what happened, whatever the case spelling of the code", () => {
  for (const tag of ["connection-refused", "connectionRefused", "ConnectionRefused"]) {
    const { refused, message } = describeErrorCode("http://127.0.0.1:1/", { tag });
    assert.equal(refused, false);
    assert.match(message, /connection was refused/);
  }
  assert.match(describeErrorCode("http://x/", { tag: "connection-timeout" }).message, /timed out/);
  assert.match(describeErrorCode("http://x/", { tag: "DNS-error", val: { rcode: "NXDOMAIN" } }).message, /did not resolve \(NXDOMAIN\)/);
  assert.match(describeErrorCode("http://x/", { tag: "internal-error", val: "boom" }).message, /the host failed: boom/);
  assert.equal(describeErrorCode("http://x/", { tag: "something-new" }).message, "failed (something-new)");
});

test("reason phrases for common statuses, empty for others", () => {
  assert.equal(reasonPhrase(200), "OK");
  assert.equal(reasonPhrase(404), "Not Found");
  assert.equal(reasonPhrase(599), "");
});
