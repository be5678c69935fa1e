// The global `fetch(input, init)`: outbound HTTP over wasi:http's outgoing handler. The host
// sends a request only to the hosts in the component's `allowed-outbound-hosts` (none by
// default); any other fails before a connection is made, and `fetch` rejects with a
// TypeError that names the URL and that key.
//
// Bodies are bytes, as elsewhere in the SDK: the request body is sent whole, and the response
// body is read whole (at most MAX_RESPONSE_BODY bytes) before the Promise settles. Each host
// call blocks the object until it returns (no other event of the object runs meanwhile).
// Not supported: streaming bodies, `signal` (AbortController), `cache`, `credentials`,
// `mode`, `integrity`, `keepalive`; `redirect` is honoured ("follow" up to 20 hops,
// "manual", "error").

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingBody, OutgoingRequest } from "wasi:http/types@0.2.12";

import { Request, responseFromHost } from "./http.js";
import { describeErrorCode, reasonPhrase } from "./fetch-errors.js";

/// The most bytes of a response body `fetch` reads; a longer body rejects the Promise.
export const MAX_RESPONSE_BODY = 32 << 20;
const MAX_REDIRECTS = 20;
const CHUNK = 4096;
/// Headers the transport sets itself (wasi:http refuses them from a guest): dropped, as a
/// browser drops its forbidden request headers.
const TRANSPORT_HEADERS = new Set(["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "http2-settings"]);

function fail(url, message) {
  return new TypeError(`fetch ${url}: ${message}`);
}

function drop(resource) {
  if (resource) resource[Symbol.dispose]();
}

/// The wasi:http error code an import threw, if it threw one.
function errorCode(error) {
  const payload = error && typeof error === "object" && "payload" in error ? error.payload : error;
  return payload && typeof payload === "object" && typeof payload.tag === "string" ? payload : null;
}

function methodVariant(method) {
  const known = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
  return known.includes(method) ? { tag: method.toLowerCase() } : { tag: "other", val: method };
}

/// Sends one request and reads its whole response. Throws TypeErrors.
function sendOnce(url, method, headerPairs, bytes) {
  const parsed = new globalThis.URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw fail(url, `the scheme ${parsed.protocol} is not supported (only http: and https:)`);
  }
  if (parsed.username || parsed.password) throw fail(url, "credentials in the URL are not supported");
  const entries = [];
  for (const [name, value] of headerPairs) {
    if (!TRANSPORT_HEADERS.has(name)) entries.push([name, new TextEncoder().encode(value)]);
  }
  if (bytes && !headerPairs.some(([name]) => name === "content-length")) {
    entries.push(["content-length", new TextEncoder().encode(String(bytes.length))]);
  }
  let fields;
  try {
    fields = Fields.fromList(entries);
  } catch (error) {
    const code = errorCode(error);
    throw fail(url, `a request header is not valid or not allowed${code ? ` (${code.tag})` : ""}`);
  }
  const request = new OutgoingRequest(fields);
  const set = (what, call) => {
    try {
      call();
    } catch {
      throw fail(url, `the ${what} is not valid`);
    }
  };
  set("method", () => request.setMethod(methodVariant(method)));
  set("scheme", () => request.setScheme(parsed.protocol === "https:" ? { tag: "HTTPS" } : { tag: "HTTP" }));
  set("host", () => request.setAuthority(parsed.host));
  set("path", () => request.setPathWithQuery(`${parsed.pathname || "/"}${parsed.search}`));
  const body = request.body();
  let pending;
  try {
    pending = handle(request, null);
  } catch (error) {
    drop(body);
    throw failure(url, error);
  }
  try {
    if (bytes && bytes.length > 0) writeBody(url, body, bytes, pending);
    try {
      OutgoingBody.finish(body, null);
    } catch (error) {
      throw failure(url, error);
    }
    return receive(url, pending);
  } finally {
    drop(pending);
  }
}

function writeBody(url, body, bytes, pending) {
  const stream = body.write();
  try {
    for (let at = 0; at < bytes.length; at += CHUNK) {
      stream.blockingWriteAndFlush(bytes.subarray(at, Math.min(at + CHUNK, bytes.length)));
    }
  } catch (error) {
    // The host dropped the body because the request failed (refused, say): its reason
    // says more than the stream's.
    drop(stream);
    const outcome = settle(pending);
    if (outcome && outcome.tag === "err") throw failure(url, { payload: outcome.val });
    throw fail(url, `sending the body failed: ${streamError(error)}`);
  }
  drop(stream);
}

/// Waits for the response: `{tag: "ok", val: incoming-response}`, `{tag: "err", val: code}`
/// or null if it was lost.
function settle(pending) {
  const ready = pending.subscribe();
  ready.block();
  drop(ready);
  const outcome = pending.get();
  if (!outcome || outcome.tag !== "ok") return null;
  return outcome.val;
}

function receive(url, pending) {
  const outcome = settle(pending);
  if (!outcome) throw fail(url, "the response was lost");
  if (outcome.tag === "err") throw failure(url, { payload: outcome.val });
  const response = outcome.val;
  let incoming;
  try {
    const status = response.status();
    const headers = response.headers();
    const pairs = headers.entries().map(([name, value]) => [name.toLowerCase(), new TextDecoder().decode(value)]);
    drop(headers);
    const length = pairs.find(([name]) => name === "content-length");
    if (length && Number(length[1]) > MAX_RESPONSE_BODY) {
      throw fail(url, `the response body (${length[1]} bytes) is over fetch's limit of ${MAX_RESPONSE_BODY} bytes`);
    }
    incoming = response.consume();
    const bytes = readBody(url, incoming);
    return { status, pairs, bytes };
  } finally {
    if (incoming) drop(incoming);
    drop(response);
  }
}

function readBody(url, incoming) {
  const stream = incoming.stream();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(64 << 10);
      } catch (error) {
        const code = errorCode(error);
        if (code && code.tag === "closed") break;
        throw fail(url, `reading the response body failed: ${streamError(error)}`);
      }
      total += chunk.length;
      if (total > MAX_RESPONSE_BODY) {
        throw fail(url, `the response body is over fetch's limit of ${MAX_RESPONSE_BODY} bytes`);
      }
      chunks.push(chunk);
    }
  } finally {
    drop(stream);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

function streamError(error) {
  const code = errorCode(error);
  if (!code) return String(error && error.message ? error.message : error);
  if (code.tag === "closed") return "the connection closed";
  try {
    return code.val && typeof code.val.toDebugString === "function" ? code.val.toDebugString() : code.tag;
  } catch {
    return code.tag;
  }
}

/// A TypeError for what an import threw.
function failure(url, error) {
  if (error instanceof TypeError) return error;
  const code = errorCode(error);
  if (!code) return fail(url, String(error && error.message ? error.message : error));
  const { refused, message } = describeErrorCode(url, code);
  const result = fail(url, message);
  if (refused) result.refused = true;
  return result;
}

function followable(status) {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/// `fetch(input, init)` as the Fetch standard has it, on wasi:http.
export function fetch(input, init = undefined) {
  try {
    return Promise.resolve(fetchNow(input, init));
  } catch (error) {
    return Promise.reject(error);
  }
}

function fetchNow(input, init) {
  const request = new Request(input, init ?? {});
  const redirect = (init && init.redirect) ?? request.redirect ?? "follow";
  if (!["follow", "manual", "error"].includes(redirect)) {
    throw new TypeError(`fetch: redirect must be "follow", "manual" or "error", not ${JSON.stringify(redirect)}`);
  }
  if (init && init.signal) throw new TypeError("fetch: `signal` (aborting a request) is not supported");
  let url = request.url;
  let method = request.method;
  let pairs = request.headers._pairs();
  let bytes = request._bytes;
  for (let hops = 0; ; hops++) {
    const answer = sendOnce(url, method, pairs, bytes);
    const location = answer.pairs.find(([name]) => name === "location");
    if (!followable(answer.status) || !location || redirect === "manual") {
      const response = responseFromHost(answer.status, answer.pairs, answer.bytes);
      response.statusText = reasonPhrase(answer.status);
      response.url = url;
      response.redirected = hops > 0;
      return response;
    }
    if (redirect === "error") throw fail(url, `redirected (${answer.status}) and redirect is "error"`);
    if (hops + 1 > MAX_REDIRECTS) throw fail(url, `more than ${MAX_REDIRECTS} redirects`);
    url = new globalThis.URL(location[1], url).href;
    if (answer.status === 303 ? method !== "HEAD" : (answer.status === 301 || answer.status === 302) && method === "POST") {
      method = "GET";
      bytes = null;
      pairs = pairs.filter(([name]) => !["content-type", "content-length", "content-encoding", "content-language", "content-location"].includes(name));
    }
  }
}
