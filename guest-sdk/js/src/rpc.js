// RPC into an object: what the `rpc-handler` export does with a call that another object or
// a worker made through a stub (`await stub.increment(5)`).
//
// The method is looked up on the object's class, as Cloudflare's RPC does: a function on
// its prototype chain (below Object.prototype). Own properties of the instance (`ctx`,
// `env`, fields) are never reachable, nor are the constructor, the event handlers and names
// that begin with `_` or `#`. Arguments arrive as a JSON array; the result leaves as JSON
// (`undefined` as `null`). This module touches no host interface, so Node can test it.

/// Names that are events of their own, not methods to call.
const HANDLERS = new Set(["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"]);

function refuse(object, name, why) {
  const owner = (object && object.constructor && object.constructor.name) || "the object";
  throw new TypeError(`${JSON.stringify(name)} is not an RPC method of ${owner}: ${why}`);
}

/// The function `name` names on `object`'s class, or a TypeError saying why it cannot be
/// called by RPC.
export function rpcMethod(object, name) {
  if (typeof name !== "string" || name === "") refuse(object, name, "a method name is a non-empty string");
  if (name === "constructor") refuse(object, name, "the constructor is not a method");
  if (HANDLERS.has(name)) refuse(object, name, "it is an event handler, which only its own event calls");
  if (name[0] === "_" || name[0] === "#") refuse(object, name, "names beginning with _ or # are private");
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const found = Object.getOwnPropertyDescriptor(proto, name);
    if (found === undefined) continue;
    if (typeof found.value === "function") return found.value;
    refuse(object, name, found.get ? "it is a getter, not a method" : "it is not a function");
  }
  if (Object.prototype.hasOwnProperty.call(object, name)) {
    refuse(object, name, "it is a property of the instance; only methods of the class are callable");
  }
  return refuse(object, name, "the class has no such method");
}

/// The arguments of a call: `payload` must be a JSON array.
export function decodeArguments(name, payload) {
  let args;
  try {
    args = JSON.parse(payload);
  } catch (error) {
    throw new TypeError(`the arguments of ${name}() are not JSON: ${error.message}`);
  }
  if (!Array.isArray(args)) throw new TypeError(`the arguments of ${name}() must be a JSON array`);
  return args;
}

/// A method's result as JSON; `undefined` is `null`.
export function encodeResult(name, value) {
  if (value === undefined) return "null";
  let json;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`the result of ${name}() cannot be sent as JSON: ${error.message}`);
  }
  if (json === undefined) throw new TypeError(`the result of ${name}() (a ${typeof value}) cannot be sent as JSON`);
  return json;
}

/// Calls method `name` of `object` with the arguments in `payload`; a Promise of the JSON
/// result, rejected with the method's error (or the reason it cannot be called).
export function callMethod(object, name, payload) {
  try {
    const method = rpcMethod(object, name);
    const args = decodeArguments(name, payload);
    return Promise.resolve(method.apply(object, args)).then((value) => encodeResult(name, value));
  } catch (error) {
    return Promise.reject(error);
  }
}
