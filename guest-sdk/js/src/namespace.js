// `env`: the component's bindings, each a `DurableObjectNamespace` (`env.COUNTER`), and its
// vars, plain strings (`env.GREETING`), as the host's `namespaces` interface lists them.
// Objects receive it as the constructor's second argument (`this.env`), workers as
// `fetch(request, env, ctx)`'s.

import * as wit from "wdo:object/namespaces@0.1.0";
import { DurableObjectId } from "./state.js";
import { makeStub, stubError } from "./stub.js";
import { utf8Encode } from "./web/encoding.js";

/// Runs a host call, turning the WIT error record it fails with into an Error with `code`
/// (a TypeError for a bad argument, as Cloudflare throws for a bad id).
function host(call) {
  try {
    return call();
  } catch (error) {
    const record = error instanceof Error ? error.payload : undefined;
    if (record && typeof record === "object" && typeof record.code === "string") {
      if (record.code !== "invalid-argument") throw stubError(record);
      const bad = new TypeError(record.message);
      bad.code = record.code;
      throw bad;
    }
    throw error;
  }
}

/// The host side of a stub. Each request or call gets a host stub of its own, dropped at
/// once, so that a long-lived instance holds none between calls.
function connection(binding, id) {
  const withStub = (use) => {
    const stub = host(() => wit.Stub.get(binding, id.toString(), id.name ?? null));
    try {
      return host(() => use(stub));
    } finally {
      stub[Symbol.dispose]();
    }
  };
  return {
    fetch: (request) => withStub((stub) => stub.fetch(request)),
    call: (method, payload) => withStub((stub) => stub.call(method, payload)),
  };
}

/// Names longer than this are not kept on the id, as on Cloudflare.
const MAX_NAME_BYTES = 1024;

export class DurableObjectNamespace {
  constructor(binding, namespace) {
    this._binding = binding;
    this._namespace = namespace;
  }

  /// The id of the object called `name`: the same every time.
  idFromName(name) {
    if (typeof name !== "string") throw new TypeError(`idFromName() takes a string, not ${name === null ? "null" : typeof name}`);
    const hex = host(() => wit.idFromName(this._binding, name));
    const short = name.length * 3 <= MAX_NAME_BYTES || utf8Encode(name).length <= MAX_NAME_BYTES;
    return new DurableObjectId(hex, short ? name : undefined);
  }

  /// A new random id that no name maps to. (Options such as `jurisdiction` are ignored.)
  newUniqueId(_options) {
    return new DurableObjectId(host(() => wit.newUniqueId(this._binding)));
  }

  /// The id written as `hex` (from `id.toString()`); throws if it is malformed or an id of
  /// another namespace.
  idFromString(hex) {
    if (typeof hex !== "string") throw new TypeError(`idFromString() takes a string, not ${hex === null ? "null" : typeof hex}`);
    return new DurableObjectId(host(() => wit.idFromString(this._binding, hex)));
  }

  /// A stub on the object `id`. Getting it does not start the object; its first request or
  /// call does. (Options such as `locationHint` are ignored.)
  get(id, _options) {
    if (!(id instanceof DurableObjectId)) {
      throw new TypeError("get() takes a DurableObjectId (from idFromName, newUniqueId or idFromString)");
    }
    // The host checks that the id is one of this namespace's, so a foreign id fails here.
    host(() => wit.idFromString(this._binding, id.toString()));
    return makeStub(id, connection(this._binding, id));
  }

  /// `get(idFromName(name))`.
  getByName(name, options) {
    return this.get(this.idFromName(name), options);
  }
}

let env = null;

/// The component's `env` (the same object for the instance's whole life).
export function componentEnv() {
  if (env === null) {
    const built = {};
    for (const [name, namespace] of host(() => wit.bindings())) built[name] = new DurableObjectNamespace(name, namespace);
    for (const [name, value] of host(() => wit.vars())) built[name] = value;
    env = built;
  }
  return env;
}
