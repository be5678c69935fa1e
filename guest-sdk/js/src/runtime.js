// Turns an object class into the component's exports (used by the entry module that
// `wdo-js build` generates; not part of the public API). worker.js shares its event plumbing.
//
// One instance serves one object id. It is constructed at the start of its first event
// (with `blockConcurrencyWhile` work finished before that event runs), then every event
// calls a method on it. Each export runs the handler and then the SDK's job queue until the
// handler's promise settles, so the handler's awaits all complete inside the host's turn.
// An exception that escapes a handler is logged and rethrown: the component traps, the
// host rolls the turn back, answers 500 and starts a fresh instance for the next event.

import "./globals.js";
import { componentEnv } from "./namespace.js";
import { WdoPromise, runJobs } from "./promise.js";
import { callMethod } from "./rpc.js";
import { DurableObjectState } from "./state.js";
import { requestFromHost } from "./web/http.js";
import { forgetWebSocket, fromWitMessage, pinnedWebSocket, webSocketFor } from "./websocket.js";

/// The value of `promise` once the job queue has run; throws its error if it rejected.
export function settle(promise, what) {
  runJobs();
  const { done, failed, value } = WdoPromise._inspect(WdoPromise.resolve(promise));
  if (!done) {
    throw new Error(
      `${what} did not complete: it awaits a promise that nothing settles within the event ` +
        "(wdo has no timers or network; storage and stub calls complete at once)",
    );
  }
  if (failed) throw value;
  return value;
}

export function fromWitRequest(request) {
  const headers = request.headers;
  let host = "localhost";
  for (const [name, value] of headers) {
    if (name === "host") {
      if (/^[A-Za-z0-9.:[\]-]+$/.test(value)) host = value;
      break;
    }
  }
  // Objects see the path inside the object; make it an absolute URL, as Cloudflare's are,
  // so that `new URL(request.url)` works.
  const body = request.body instanceof Uint8Array ? request.body : Uint8Array.from(request.body);
  return requestFromHost(request.method, `http://${host}${request.url}`, headers, body.length > 0 ? body : null);
}

/// `owner` names the handler in the error when `response` is not a Response, e.g.
/// "GameRoom.fetch() did not return a Response (it returned undefined: a missing `return`?)".
export function toWitResponse(response, owner = "fetch()") {
  if (!response || typeof response.status !== "number" || !response.headers) {
    const what = response === null ? "null" : response === undefined ? "undefined" : `a value of type ${typeof response}`;
    const hint = response === undefined ? ": a missing `return`?" : "";
    throw new TypeError(`${owner} did not return a Response (it returned ${what}${hint})`);
  }
  if (response._bytes === undefined) {
    throw new TypeError(`${owner} did not return a Response: it must return an instance of the global Response class`);
  }
  return { status: response.status, headers: response.headers._pairs(), body: response._bytes || new Uint8Array(0) };
}

/// The component's exports (one object per exported WIT interface) for instances of
/// `ObjectClass`. `env` defaults to the component's bindings and vars.
export function exportObject(ObjectClass, env = undefined) {
  if (typeof ObjectClass !== "function") {
    throw new TypeError("exportObject: expected the object's class");
  }
  let instance = null;

  // `failAsResult`: an exception is the event's error result (alarms: retried, instance
  // kept) rather than a trap.
  function run(event, handler, failAsResult = false) {
    try {
      if (instance === null) {
        const ctx = new DurableObjectState();
        const created = new ObjectClass(ctx, env ?? componentEnv());
        for (const blocker of ctx._takeBlockers()) {
          settle(blocker, "blockConcurrencyWhile() in the constructor");
        }
        instance = created;
      }
      let promise;
      try {
        promise = WdoPromise.resolve(handler(instance));
      } catch (error) {
        promise = WdoPromise.reject(error);
      }
      return settle(promise, `${ObjectClass.name}.${event}()`);
    } catch (error) {
      console.error(`Uncaught exception in ${ObjectClass.name}.${event}():`, error);
      // A thrown string is the export's `err` result; anything else traps.
      throw failAsResult && instance !== null ? String(error && error.message ? error.message : error) : error;
    }
  }

  return {
    fetchHandler: {
      fetch(request) {
        return run("fetch", (object) => {
          if (typeof object.fetch !== "function") {
            throw new TypeError(`${ObjectClass.name} has no fetch() method`);
          }
          return WdoPromise.resolve(object.fetch(fromWitRequest(request))).then((response) =>
            toWitResponse(response, `${ObjectClass.name}.fetch()`),
          );
        });
      },
    },
    alarmHandler: {
      alarm(info) {
        run(
          "alarm",
          (object) => {
            if (typeof object.alarm !== "function") {
              console.warn(`${ObjectClass.name} has no alarm() method: the alarm is dropped`);
              return undefined;
            }
            return object.alarm({
              retryCount: info.retryCount,
              isRetry: info.isRetry,
              scheduledTime: Number(info.scheduledMs),
            });
          },
          true,
        );
      },
    },
    // RPC through a stub: the result is JSON, an exception is the call's error (its message
    // reaches the caller; the host rolls the call's writes back).
    rpcHandler: {
      call(method, payload) {
        return run(method, (object) => callMethod(object, method, payload), true);
      },
    },
    // Cloudflare's hibernation handlers; a class without one ignores that event. An
    // exception is the event's error: its writes roll back, the instance stays.
    websocketHandler: {
      websocketMessage(socket, message) {
        run(
          "webSocketMessage",
          (object) => {
            const pinned = pinnedWebSocket(socket);
            if (pinned) return pinned._dispatch({ type: "message", data: fromWitMessage(message) });
            if (typeof object.webSocketMessage !== "function") return undefined;
            return object.webSocketMessage(webSocketFor(socket), fromWitMessage(message));
          },
          true,
        );
      },
      websocketClose(socket, code, reason, wasClean) {
        const ws = webSocketFor(socket);
        ws.readyState = 3; // CLOSED: ws.close() in the handler is a no-op
        try {
          run(
            "webSocketClose",
            (object) => {
              const pinned = pinnedWebSocket(socket);
              if (pinned) return pinned._dispatch({ type: "close", code, reason, wasClean });
              if (typeof object.webSocketClose !== "function") return undefined;
              return object.webSocketClose(ws, code, reason, wasClean);
            },
            true,
          );
        } finally {
          forgetWebSocket(socket);
        }
      },
      websocketError(socket, error) {
        run(
          "webSocketError",
          (object) => {
            const pinned = pinnedWebSocket(socket);
            if (pinned) return pinned._dispatch({ type: "error", error: new Error(error), message: error });
            if (typeof object.webSocketError !== "function") return undefined;
            return object.webSocketError(webSocketFor(socket), new Error(error));
          },
          true,
        );
      },
    },
  };
}
