// Installs the globals an object expects of a web-like runtime, where the engine lacks them.
// Imported before any user code runs.

import { WdoPromise, queueMicrotask } from "./promise.js";
import { console } from "./web/console.js";
import { TextDecoder, TextEncoder } from "./web/encoding.js";
import { fetch } from "./web/fetch.js";
import { Headers, Request, Response } from "./web/http.js";
import { URL, URLSearchParams } from "./web/url.js";
import { WebSocketPair, WebSocketRequestResponsePair } from "./websocket.js";

// Always replaced: QuickJS's own Promise queues its jobs where nothing ever runs them.
globalThis.Promise = WdoPromise;
globalThis.queueMicrotask = queueMicrotask;

const missing = { fetch, WebSocketPair, WebSocketRequestResponsePair, console, TextDecoder, TextEncoder, Headers, Request, Response, URL, URLSearchParams };
for (const [name, value] of Object.entries(missing)) {
  if (globalThis[name] === undefined) globalThis[name] = value;
}
