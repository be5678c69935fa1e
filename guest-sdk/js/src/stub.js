// `DurableObjectStub`: what `env.COUNTER.get(id)` returns. `stub.fetch(request)` sends an
// HTTP request to the object's `fetch`; any other property is an RPC method:
// `await stub.increment(5)` calls the object's `increment(5)` and resolves to its result.
//
// Both are synchronous host calls (the host runs the callee's event and waits for its
// commit), so the promise a stub returns is already settled, as storage's are. A stub
// reaches the host through a `connection` ({fetch(witRequest), call(method, payload)}, made
// by namespace.js), so this module touches no host interface and Node can test it.

import { Request, responseFromHost } from "./web/http.js";

/// Properties a stub does not turn into RPC methods: `then`, so that `await stub` gives the
/// stub; `toJSON`, `toString` and `valueOf`, which JSON and string conversion probe.
const NOT_METHODS = new Set(["then", "toJSON", "toString", "valueOf"]);

/// An error the host reported for a stub call: `code` is `invalid-argument`, `failed` (the
/// callee threw or trapped; the message is its), `cycle`, `timeout` or `unavailable`.
export function stubError(record) {
  const error = new Error(record.message);
  error.code = record.code;
  // Cloudflare's flag for an exception that the remote object threw.
  error.remote = record.code === "failed";
  return error;
}

/// The WIT request for `stub.fetch(input, init)`: the object wants the path and query only,
/// so an absolute URL's origin is dropped. A bare path ("/increment") is accepted too.
export function toHostRequest(input, init) {
  let request;
  if (input instanceof Request && init === undefined) {
    request = input;
  } else {
    const url = typeof input === "string" && input.startsWith("/") ? `http://object${input}` : input;
    request = new Request(url, init);
  }
  const url = new globalThis.URL(request.url);
  return {
    method: request.method,
    url: `${url.pathname}${url.search}`,
    headers: request.headers._pairs(),
    body: request._bytes || new Uint8Array(0),
  };
}

/// The Response for the WIT response an object answered.
export function fromHostResponse(response) {
  const body = response.body instanceof Uint8Array ? response.body : Uint8Array.from(response.body);
  return responseFromHost(response.status, response.headers, body);
}

function rpc(connection, method, args) {
  let payload;
  try {
    payload = JSON.stringify(args);
  } catch (error) {
    return Promise.reject(new TypeError(`the arguments of ${method}() cannot be sent as JSON: ${error.message}`));
  }
  try {
    const result = connection.call(method, payload);
    return Promise.resolve(JSON.parse(result));
  } catch (error) {
    return Promise.reject(error);
  }
}

/// A stub on the object `id` (a DurableObjectId) reached through `connection`.
export function makeStub(id, connection) {
  const target = {
    id,
    name: id.name,
    fetch(input, init) {
      try {
        return Promise.resolve(fromHostResponse(connection.fetch(toHostRequest(input, init))));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
  const methods = new Map();
  return new Proxy(target, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(target, property)) return target[property];
      if (typeof property !== "string" || NOT_METHODS.has(property)) return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        method = (...args) => rpc(connection, property, args);
        methods.set(property, method);
      }
      return method;
    },
    set() {
      return false;
    },
  });
}
