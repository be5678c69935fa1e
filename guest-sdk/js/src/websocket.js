// WebSockets with hibernation: Cloudflare's `ctx.acceptWebSocket` API over wdo's
// `websocket` interface. The host, not the instance, holds every socket, so an object with
// open sockets is evicted when idle and woken by the next message; a `WebSocket` here is a
// handle (the host's socket id) that stays valid across that.

import * as wit from "wdo:object/websocket@0.1.0";
import { hostCall } from "./storage.js";
import { utf8Decode, utf8Encode } from "./web/encoding.js";

function host(call) {
  return hostCall("websocket", call);
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/// A WIT `message` for a string, ArrayBuffer or typed array.
export function toWitMessage(data) {
  if (typeof data === "string") return { tag: "text", val: data };
  const bytes = toBytes(data);
  if (bytes === null) throw new TypeError("WebSocket.send() takes a string, an ArrayBuffer or a typed array");
  return { tag: "binary", val: bytes };
}

/// A WIT `message` as Cloudflare hands it to `webSocketMessage`: a string or an ArrayBuffer.
export function fromWitMessage(message) {
  if (message.tag === "text") return message.val;
  const bytes = message.val instanceof Uint8Array ? message.val : Uint8Array.from(message.val);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

// One handle per socket id within an instance, so `ws === otherWs` works as with Cloudflare.
const handles = new Map();

/// The socket of `accept()` (standard API) with host id `id`, if it is one. Internal.
export function pinnedWebSocket(id) {
  const ws = handles.get(id);
  return ws !== undefined && ws._pinned ? ws : null;
}

/// The handle of host socket `id`. Internal.
export function webSocketFor(id) {
  let ws = handles.get(id);
  if (ws === undefined) {
    ws = new WebSocket(null);
    ws._id = id;
    handles.set(id, ws);
  }
  return ws;
}

/// Forgets a socket the host reported closed. Internal.
export function forgetWebSocket(id) {
  const ws = handles.get(id);
  if (ws !== undefined) {
    ws.readyState = WebSocket.CLOSED;
    handles.delete(id);
  }
}

/// A server-side WebSocket accepted with `ctx.acceptWebSocket`.
export class WebSocket {
  constructor(_pairSide) {
    this._id = null;
    this.readyState = WebSocket.OPEN;
  }

  _socket(operation) {
    if (this._id === null) {
      throw new TypeError(`WebSocket.${operation}(): this socket was not accepted with ctx.acceptWebSocket()`);
    }
    return this._id;
  }

  /// Queues a message (a string, ArrayBuffer or typed array); the host sends it once the
  /// event commits, in call order.
  send(message) {
    const id = this._socket("send");
    host(() => wit.send(id, toWitMessage(message)));
  }

  /// Closes with `code` (1000 or 3000-4999) and a reason of at most 123 bytes. A no-op on a
  /// socket that is already closed (e.g. in `webSocketClose`).
  close(code = 1000, reason = "") {
    const id = this._socket("close");
    if (this.readyState !== WebSocket.OPEN) return;
    host(() => wit.close(id, code, String(reason)));
    this.readyState = WebSocket.CLOSING;
  }

  /// Keeps `value` (as JSON, at most 16 KiB) with the socket until it closes; it survives
  /// hibernation.
  serializeAttachment(value) {
    const id = this._socket("serializeAttachment");
    const json = JSON.stringify(value === undefined ? null : value);
    host(() => wit.serializeAttachment(id, utf8Encode(json)));
  }

  /// The value of the last `serializeAttachment`, or null.
  deserializeAttachment() {
    const id = this._socket("deserializeAttachment");
    const bytes = host(() => wit.deserializeAttachment(id));
    return bytes === null || bytes === undefined ? null : JSON.parse(utf8Decode(bytes));
  }

  /// The standard (non-hibernating) API: accepts the upgrade request the current `fetch`
  /// handles for the server side of a `WebSocketPair`. Its events go to the listeners added
  /// with `addEventListener`, which live in this instance: while the socket is open the host
  /// does not evict the object (it cannot hibernate, as on Cloudflare).
  accept() {
    if (this._id !== null) throw new TypeError("WebSocket.accept(): this socket was already accepted");
    const id = host(() => wit.acceptWebsocketPinned([]));
    this._id = id;
    this._pinned = true;
    handles.set(id, this);
  }

  /// `type`: "message" (`event.data`: a string or an ArrayBuffer), "close" (`event.code`,
  /// `event.reason`, `event.wasClean`) or "error". Only on a socket of `accept()`: one of
  /// `ctx.acceptWebSocket` gets its events through the object's `webSocketMessage` etc.
  addEventListener(type, listener) {
    if (this._id !== null && !this._pinned) {
      throw new TypeError(
        "addEventListener(): this socket was accepted with ctx.acceptWebSocket (hibernation); its events go to webSocketMessage(), webSocketClose() and webSocketError()",
      );
    }
    if (typeof listener !== "function" && typeof listener?.handleEvent !== "function") {
      throw new TypeError("addEventListener(): the listener must be a function");
    }
    if (this._listeners === undefined) this._listeners = new Map();
    const list = this._listeners.get(type) || [];
    if (!list.includes(listener)) list.push(listener);
    this._listeners.set(type, list);
  }

  removeEventListener(type, listener) {
    const list = this._listeners?.get(type);
    if (list) this._listeners.set(type, list.filter((l) => l !== listener));
  }

  /// Runs the listeners of `event.type` (awaiting those that return promises). Internal.
  _dispatch(event) {
    const list = [...(this._listeners?.get(event.type) || [])];
    return Promise.all(
      list.map((l) => (typeof l === "function" ? l.call(this, event) : l.handleEvent(event))),
    );
  }
}
WebSocket.CONNECTING = 0;
WebSocket.OPEN = 1;
WebSocket.CLOSING = 2;
WebSocket.CLOSED = 3;

/// Cloudflare's pair: `[client, server] = Object.values(new WebSocketPair())`, then
/// `ctx.acceptWebSocket(server)`. On wdo the host owns the connection, so `client` is only
/// a placeholder for `new Response(null, { status: 101, webSocket: client })`.
export class WebSocketPair {
  constructor() {
    this[0] = new WebSocket(0);
    this[1] = new WebSocket(1);
  }
}

/// The argument of `ctx.setWebSocketAutoResponse`: a text message equal to `request` is
/// answered `response` by the host, without waking the object.
export class WebSocketRequestResponsePair {
  constructor(request, response) {
    if (typeof request !== "string" || typeof response !== "string") {
      throw new TypeError("WebSocketRequestResponsePair takes two strings");
    }
    this._request = request;
    this._response = response;
  }

  get request() {
    return this._request;
  }

  get response() {
    return this._response;
  }
}

/// The `ctx` methods (mixed into DurableObjectState).
export const webSocketMethods = {
  /// Accepts the upgrade request the current `fetch` handles. `target` is the `Request` or,
  /// Cloudflare-style, the server side of a `WebSocketPair`. Returns the socket; whatever
  /// `fetch` then returns, the host answers 101 once the event commits.
  acceptWebSocket(target, tags = []) {
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string")) {
      throw new TypeError("acceptWebSocket(): tags must be an array of strings");
    }
    if (target instanceof WebSocket && target._id !== null) {
      throw new TypeError("acceptWebSocket(): this WebSocket was already accepted");
    }
    const id = host(() => wit.acceptWebsocket(tags));
    const ws = target instanceof WebSocket ? target : new WebSocket(null);
    ws._id = id;
    handles.set(id, ws);
    return ws;
  },

  /// The object's open sockets, optionally only those accepted with `tag`.
  getWebSockets(tag) {
    return wit.getWebsockets(tag === undefined || tag === null ? null : String(tag)).map(webSocketFor);
  },

  getTags(ws) {
    if (!(ws instanceof WebSocket)) throw new TypeError("getTags() takes a WebSocket");
    const id = ws._socket("getTags");
    return host(() => wit.getTags(id));
  },

  /// Sets (or, without an argument, removes) the host's automatic response.
  setWebSocketAutoResponse(pair) {
    if (pair === undefined || pair === null) {
      host(() => wit.setAutoResponse(null));
      this._autoResponse = null;
      return;
    }
    if (!(pair instanceof WebSocketRequestResponsePair)) {
      throw new TypeError("setWebSocketAutoResponse() takes a WebSocketRequestResponsePair");
    }
    host(() => wit.setAutoResponse([pair.request, pair.response]));
    this._autoResponse = pair;
  },

  /// The pair set by this instance, or null.
  getWebSocketAutoResponse() {
    return this._autoResponse ?? null;
  },

  /// When the host last auto-responded on `ws`, as a Date, or null.
  getWebSocketAutoResponseTimestamp(ws) {
    if (!(ws instanceof WebSocket)) throw new TypeError("getWebSocketAutoResponseTimestamp() takes a WebSocket");
    const id = ws._socket("getWebSocketAutoResponseTimestamp");
    const ms = host(() => wit.getAutoResponseTimestamp(id));
    return ms === null || ms === undefined ? null : new Date(Number(ms));
  },

  /// wdo extension: sends `message` to every open socket (with `tag`, if given) except
  /// `except`, in one host call; returns how many.
  broadcast(message, { tag, except } = {}) {
    const exceptId = except instanceof WebSocket ? except._socket("broadcast") : null;
    return host(() => wit.broadcast(toWitMessage(message), tag ?? null, exceptId));
  },
};
