// `ctx.storage`: Cloudflare's asynchronous key-value API over wdo's synchronous WIT storage.
//
// Every method does its work at once (a host call) and returns a settled Promise, so
// `await ctx.storage.get(k)` and the un-awaited `ctx.storage.put(k, v)` of Cloudflare's
// examples both behave as there. Values are stored as JSON (UTF-8), the format of the Rust
// and Python SDKs, so an object's data reads the same from every language. That means a
// value must be JSON-serializable: a Map, Set, Date or undefined inside it does not survive
// the trip as it would with Cloudflare's structured clone.

import * as witAlarm from "wdo:object/alarm@0.1.0";
import * as wit from "wdo:object/storage@0.1.0";
import { utf8Decode, utf8Encode } from "./web/encoding.js";

/// A failed storage call. `code` is the host's error code (`invalid-argument`,
/// `limit-exceeded`, `transaction-closed`, `internal`) or `serialization` for a value that is
/// not JSON.
export class StorageError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "StorageError";
    this.code = code;
  }
}

/// Runs a call of the host's `what` interface, turning the WIT error record it fails with into
/// a StorageError. componentize-js throws an Error whose `payload` is that record.
export function hostCall(what, call) {
  try {
    return call();
  } catch (error) {
    const record = error instanceof Error && !(error instanceof StorageError) ? error.payload : undefined;
    if (record && typeof record === "object" && typeof record.code === "string") {
      throw new StorageError(record.code, `${what}: ${record.code}: ${record.message}`);
    }
    throw error;
  }
}

function host(call) {
  return hostCall("storage", call);
}

/// Runs `work` now and returns its outcome as a settled Promise.
function settled(work) {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

function checkKey(key) {
  if (typeof key !== "string") {
    throw new TypeError(`storage keys are strings, not ${key === null ? "null" : typeof key}`);
  }
  return key;
}

function encode(key, value) {
  if (value === undefined) throw new TypeError("put() called with undefined value.");
  let json;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new StorageError("serialization", `cannot store the value for key ${JSON.stringify(key)} as JSON: ${error.message}`);
  }
  if (json === undefined) {
    throw new StorageError("serialization", `cannot store a ${typeof value} for key ${JSON.stringify(key)}: values are stored as JSON`);
  }
  return utf8Encode(json);
}

function decode(key, bytes) {
  try {
    return JSON.parse(utf8Decode(bytes));
  } catch (error) {
    throw new StorageError("serialization", `the value at key ${JSON.stringify(key)} is not JSON: ${error.message}`);
  }
}

function entriesToMap(entries) {
  const map = new Map();
  for (const [key, bytes] of entries) map.set(key, decode(key, bytes));
  return map;
}

const LIST_OPTIONS = ["start", "startAfter", "end", "prefix", "reverse", "limit"];

function listOptions(options) {
  for (const name of Object.keys(options)) {
    if (!LIST_OPTIONS.includes(name) && !["allowConcurrency", "noCache"].includes(name)) {
      throw new TypeError(`list(): unknown option ${JSON.stringify(name)}`);
    }
  }
  const text = (name) => (options[name] === undefined || options[name] === null ? null : checkKey(options[name]));
  const limit = options.limit;
  if (limit !== undefined && limit !== null && !(Number.isInteger(limit) && limit > 0)) {
    throw new TypeError("List limit must be positive.");
  }
  return {
    start: text("start"),
    startAfter: text("startAfter"),
    end: text("end"),
    prefix: text("prefix"),
    reverse: Boolean(options.reverse),
    limit: limit ?? null,
  };
}

export class DurableObjectStorage {
  /// `ctx.storage.sql` (sql.js), installed by state.js to keep the modules acyclic.
  /// `get(key)`: the value or undefined. `get([keys])`: a Map of the present keys, in key order.
  get(keys, _options) {
    return settled(() => {
      this._check("get");
      if (Array.isArray(keys)) {
        return entriesToMap(host(() => wit.getMany(keys.map(checkKey))));
      }
      const bytes = host(() => wit.get(checkKey(keys)));
      return bytes === null || bytes === undefined ? undefined : decode(keys, bytes);
    });
  }

  /// `put(key, value)`, or `put({key: value, ...})` or `put(new Map([[key, value], ...]))`
  /// for up to 128 entries at once (atomically). Cloudflare's runtime stores nothing for a
  /// Map (it reads a Map's own properties, of which there are none); the reference text
  /// writes `put(new Map(...))` and means its entries, so wdo stores them.
  put(keyOrEntries, value, _options) {
    return settled(() => {
      this._check("put");
      if (keyOrEntries instanceof Map) {
        const entries = [...keyOrEntries].map(([key, value]) => [checkKey(key), encode(key, value)]);
        host(() => wit.putMany(entries));
        return undefined;
      }
      if (typeof keyOrEntries === "object" && keyOrEntries !== null) {
        const entries = Object.keys(keyOrEntries).map((key) => [key, encode(key, keyOrEntries[key])]);
        host(() => wit.putMany(entries));
        return undefined;
      }
      const key = checkKey(keyOrEntries);
      host(() => wit.put(key, encode(key, value)));
      return undefined;
    });
  }

  /// `delete(key)`: whether it existed. `delete([keys])`: how many of them existed.
  delete(keys, _options) {
    return settled(() => {
      this._check("delete");
      if (Array.isArray(keys)) return host(() => wit.deleteMany(keys.map(checkKey)));
      return host(() => wit.delete(checkKey(keys)));
    });
  }

  /// A Map of the entries selected by `{start, startAfter, end, prefix, reverse, limit}`,
  /// ordered by the keys' UTF-8 bytes (descending if `reverse`).
  list(options = {}, _unused) {
    return settled(() => {
      this._check("list");
      return entriesToMap(host(() => wit.list(listOptions(options))));
    });
  }

  /// Deletes every key, and the alarm. Not allowed inside a transaction.
  deleteAll(_options) {
    return settled(() => {
      this._check("deleteAll");
      host(() => wit.deleteAll());
      return undefined;
    });
  }

  /// Runs `closure(txn)` in an explicit transaction: committed when the closure's promise
  /// fulfils, rolled back (and the error rethrown) when it rejects or throws, or by
  /// `txn.rollback()`. Transactions nest. Storage calls made through `txn` or `ctx.storage`
  /// while it is open belong to it.
  transaction(closure) {
    return settled(() => {
      this._check("transaction");
      const txn = new DurableObjectTransaction(host(() => wit.Transaction.begin()));
      let result;
      try {
        result = Promise.resolve(closure(txn));
      } catch (error) {
        result = Promise.reject(error);
      }
      return result.then(
        (value) => {
          txn._finish(true);
          return value;
        },
        (error) => {
          txn._finish(false);
          throw error;
        },
      );
    });
  }

  /// Like `transaction` for a synchronous callback; returns its result (not a Promise).
  transactionSync(callback) {
    this._check("transactionSync");
    const txn = new DurableObjectTransaction(host(() => wit.Transaction.begin()));
    let value;
    try {
      value = callback();
    } catch (error) {
      txn._finish(false);
      throw error;
    }
    txn._finish(true);
    return value;
  }

  /// The alarm's time (Unix ms), or null. Null while `alarm()` runs, unless it set a new one.
  getAlarm(_options) {
    return settled(() => {
      this._check("getAlarm");
      const time = host(() => witAlarm.getAlarm());
      return time === null || time === undefined ? null : Number(time);
    });
  }

  /// Sets (overwrites) the object's one alarm: a Date or Unix ms. Part of the event's
  /// transaction: if that rolls back, so does the alarm.
  setAlarm(scheduledTime, _options) {
    return settled(() => {
      this._check("setAlarm");
      const ms = scheduledTime instanceof Date ? scheduledTime.getTime() : Number(scheduledTime);
      if (!(ms > 0)) throw new TypeError("setAlarm() cannot be called with an alarm time <= 0");
      host(() => witAlarm.setAlarm(Math.floor(ms)));
      return undefined;
    });
  }

  deleteAlarm(_options) {
    return settled(() => {
      this._check("deleteAlarm");
      host(() => witAlarm.deleteAlarm());
      return undefined;
    });
  }

  /// Resolves when earlier writes are durable. The host commits every event before its
  /// response leaves, so there is never anything to wait for.
  sync() {
    return Promise.resolve();
  }

  _check(_operation) {}
}

/// The `txn` a transaction closure receives: the storage API, plus `rollback()`.
export class DurableObjectTransaction extends DurableObjectStorage {
  constructor(resource) {
    super();
    this._resource = resource;
    this._rolledBack = false;
    this._done = false;
  }

  /// Undoes the transaction's writes now; the closure's result is still returned.
  rollback() {
    if (this._rolledBack) return;
    host(() => this._resource.rollback());
    this._rolledBack = true;
  }

  deleteAll() {
    return Promise.reject(new StorageError("invalid-argument", "Cannot call deleteAll() within a transaction"));
  }

  _check(operation) {
    if (this._rolledBack) throw new StorageError("transaction-closed", `Cannot ${operation} on rolled back transaction`);
  }

  /// Commits (or rolls back) and releases the WIT resource. A failed commit throws; a
  /// failed rollback does not, since the caller's error is what matters and releasing the
  /// resource rolls the transaction back anyway.
  _finish(commit) {
    if (this._done) return;
    this._done = true;
    try {
      if (!this._rolledBack && commit) host(() => this._resource.commit());
      else if (!this._rolledBack) this._resource.rollback();
    } catch (error) {
      if (commit) throw error;
    } finally {
      this._rolledBack = true;
      this._resource[Symbol.dispose]();
    }
  }
}
