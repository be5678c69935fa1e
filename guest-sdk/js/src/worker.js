// Turns a Worker's default export (`{ async fetch(request, env, ctx) }`, or a class extending
// `WorkerEntrypoint` with a `fetch(request)` method) into the exports of a `worker`-world
// component (used by the entry module that `wdo-js build --worker` generates).
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

  /// Settles the waitUntil() promises, including those they add; one that cannot settle is
  /// logged and left behind (the response stands). Internal.
  _finish() {
    while (this._pending.length > 0) {
      const pending = this._pending;
      this._pending = [];
      try {
        settle(WdoPromise.all(pending), "a ctx.waitUntil() promise");
      } catch (error) {
        console.error(error);
      }
    }
  }
}

/// Cloudflare's class-based Worker: `export default class extends WorkerEntrypoint { fetch(request) }`,
/// constructed for each request with `this.ctx` and `this.env`.
export class WorkerEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/// `fetch(request, env, ctx)` of the default export, whichever form it has.
function handlerOf(exported) {
  if (typeof exported === "function" && exported.prototype && typeof exported.prototype.fetch === "function") {
    return (request, env, ctx) => new exported(ctx, env).fetch(request);
  }
  if (exported !== null && typeof exported === "object" && typeof exported.fetch === "function") {
    return (request, env, ctx) => exported.fetch(request, env, ctx);
  }
  throw new TypeError(
    "the worker module must `export default { async fetch(request, env, ctx) { ... } }` " +
      "(or a class extending WorkerEntrypoint with a fetch(request) method)",
  );
}

/// The component's exports for the worker `exported` (the module's default export).
export function exportWorker(exported) {
  const handler = handlerOf(exported);
  return {
    fetchHandler: {
      fetch(request) {
        try {
          const ctx = new ExecutionContext();
          let promise;
          try {
            promise = WdoPromise.resolve(handler(fromWitRequest(request), componentEnv(), ctx));
          } catch (error) {
            promise = WdoPromise.reject(error);
          }
          const response = settle(
            promise.then((response) => toWitResponse(response, "the worker's fetch()")),
            "the worker's fetch()",
          );
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
