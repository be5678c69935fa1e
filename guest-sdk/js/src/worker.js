// Turns a Worker's default export (`{ async fetch(request, env, ctx) }`) into the exports of
// a `worker`-world component (used by the entry module that `wdo-js build --worker`
// generates; not part of the public API).
//
// Each request runs the handler, then the promises given to `ctx.waitUntil`, to completion
// (wdo has no event loop that could finish them later), and only then answers. An exception
// that escapes `fetch` is logged and traps: the host answers 500.

import "./globals.js";
import { componentEnv } from "./namespace.js";
import { WdoPromise } from "./promise.js";
import { fromWitRequest, settle, toWitResponse } from "./runtime.js";

/// `ctx`, the third argument of a Worker's `fetch`.
export class ExecutionContext {
  constructor() {
    this._pending = [];
  }

  /// Work to finish before the response is sent; a rejection is logged, the response stays.
  waitUntil(promise) {
    this._pending.push(
      WdoPromise.resolve(promise).catch((error) => console.error("waitUntil() promise rejected:", error)),
    );
  }

  /// Accepted for compatibility: there is no origin to pass through to.
  passThroughOnException() {}

  /// Settles the waitUntil() promises, including those they add. Internal.
  _finish() {
    while (this._pending.length > 0) {
      const pending = this._pending;
      this._pending = [];
      settle(WdoPromise.all(pending), "a ctx.waitUntil() promise");
    }
  }
}

/// The component's exports for the worker `handler` (the module's default export).
export function exportWorker(handler) {
  if (handler === null || typeof handler !== "object" || typeof handler.fetch !== "function") {
    throw new TypeError(
      "the worker module must `export default { async fetch(request, env, ctx) { ... } }`",
    );
  }
  return {
    fetchHandler: {
      fetch(request) {
        try {
          const ctx = new ExecutionContext();
          let promise;
          try {
            promise = WdoPromise.resolve(handler.fetch(fromWitRequest(request), componentEnv(), ctx));
          } catch (error) {
            promise = WdoPromise.reject(error);
          }
          const response = settle(promise.then(toWitResponse), "the worker's fetch()");
          ctx._finish();
          return response;
        } catch (error) {
          console.error("Uncaught exception in the worker's fetch():", error);
          throw error;
        }
      },
    },
  };
}
