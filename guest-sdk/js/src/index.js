// wdo's JavaScript SDK: write a Durable Object the way Cloudflare's docs do.
//
//   import { DurableObject } from "@wdo/sdk";
//
//   export class Counter extends DurableObject {
//     async fetch(request) {
//       let count = (await this.ctx.storage.get("count")) || 0;
//       await this.ctx.storage.put("count", ++count);
//       return Response.json({ count });
//     }
//   }
//
// `bin/wdo-js.mjs build` turns such a module into a component of the `wdo:object` world.
// See README.md for the API and what differs from Cloudflare.

import "./globals.js";

export { DurableObjectId, DurableObjectState } from "./state.js";
export { DurableObjectNamespace } from "./namespace.js";
export { WorkerEntrypoint } from "./worker.js";
export { DurableObjectStorage, DurableObjectTransaction, StorageError } from "./storage.js";
export { SqlStorage, SqlStorageCursor } from "./sql.js";
export { WebSocket, WebSocketPair, WebSocketRequestResponsePair } from "./websocket.js";

/// The base class of objects: keeps `ctx` (DurableObjectState) and `env` as Cloudflare's does.
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

// The web classes, for code that prefers importing them to using the globals.
export const { Headers, Request, Response, URL, URLSearchParams, TextEncoder, TextDecoder } = globalThis;
