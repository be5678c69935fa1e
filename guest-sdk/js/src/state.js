// `ctx`, the DurableObjectState an object's constructor receives.

import * as wit from "wdo:object/state@0.1.0";
import { DurableObjectStorage } from "./storage.js";
import { SqlStorage } from "./sql.js";
import { webSocketMethods } from "./websocket.js";

/// An object's id: 64 lower-case hex characters, and the name it was made from (undefined
/// for a unique id and for one read back with `idFromString`). `ctx.id` is the object's own;
/// `env.COUNTER.idFromName(...)` and the like make others (namespace.js).
export class DurableObjectId {
  constructor(hex, name) {
    this._hex = hex;
    this.name = name ?? undefined;
  }

  toString() {
    return this._hex;
  }

  /// JSON (a response body, an RPC argument) carries the hex string.
  toJSON() {
    return this._hex;
  }

  equals(other) {
    return other instanceof DurableObjectId && other._hex === this._hex;
  }
}

export class DurableObjectState {
  constructor() {
    this.id = new DurableObjectId(wit.id(), wit.name() ?? undefined);
    this.storage = new DurableObjectStorage();
    this._blockers = [];
  }

  /// Runs `callback` before any other event reaches the object, and returns its result.
  /// wdo delivers one event at a time and finishes each before the next, so this only has
  /// to make the constructor's initialisation complete before the first event: if it
  /// rejects there, the event fails and the next one starts a fresh instance.
  blockConcurrencyWhile(callback) {
    let promise;
    try {
      promise = Promise.resolve(callback());
    } catch (error) {
      promise = Promise.reject(error);
    }
    this._blockers.push(promise);
    return promise;
  }

  /// Accepted for compatibility: the work is finished within the event anyway.
  waitUntil(promise) {
    Promise.resolve(promise).catch((error) => console.error("waitUntil() promise rejected:", error));
  }

  /// The blockConcurrencyWhile() promises started so far. Internal.
  _takeBlockers() {
    const blockers = this._blockers;
    this._blockers = [];
    return blockers;
  }
}

// `ctx.storage.sql`, the same for every storage (and transaction) object.
const sql = new SqlStorage();
Object.defineProperty(DurableObjectStorage.prototype, "sql", { get: () => sql, configurable: true });

// acceptWebSocket, getWebSockets, getTags, setWebSocketAutoResponse, ... (websocket.js).
Object.assign(DurableObjectState.prototype, webSocketMethods);
