// `Headers`, `Request` and `Response` for engines that lack them (QuickJS): what Durable
// Objects use of the Fetch standard. Bodies are held as bytes (no streams): `body` is a
// Uint8Array or null, and text()/json()/arrayBuffer()/bytes() resolve at once.

import { TextDecoder, TextEncoder, toBytes, utf8Encode } from "./encoding.js";
import { URLSearchParams } from "./url.js";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const NULL_BODY_STATUSES = [101, 204, 205, 304];

// Names already validated and lower-cased: a Map lookup is much cheaper than a regular
// expression in QuickJS, and an object uses few distinct header names.
const validNames = new Map();

function headerName(name) {
  const text = String(name);
  let lower = validNames.get(text);
  if (lower === undefined) {
    if (!TOKEN.test(text)) throw new TypeError(`Invalid header name: ${JSON.stringify(text)}`);
    lower = text.toLowerCase();
    if (validNames.size < 1024) validNames.set(text, lower);
  }
  return lower;
}

function headerValue(value) {
  const text = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\n\r]/.test(text)) throw new TypeError(`Invalid header value: ${JSON.stringify(text)}`);
  return text;
}

export class Headers {
  constructor(init) {
    this._list = [];
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      this._list = init._list.map(([k, v]) => [k, v]);
    } else if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const entry = Array.from(pair);
        if (entry.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
        this.append(entry[0], entry[1]);
      }
    } else if (typeof init === "object") {
      for (const key of Object.keys(init)) this.append(key, init[key]);
    } else {
      throw new TypeError("Headers: expected a Headers, an array of pairs or an object");
    }
  }

  append(name, value) {
    this._list.push([headerName(name), headerValue(value)]);
  }

  delete(name) {
    const key = headerName(name);
    this._list = this._list.filter(([k]) => k !== key);
  }

  get(name) {
    const key = headerName(name);
    const values = this._list.filter(([k]) => k === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }

  getSetCookie() {
    return this._list.filter(([k]) => k === "set-cookie").map(([, v]) => v);
  }

  has(name) {
    const key = headerName(name);
    return this._list.some(([k]) => k === key);
  }

  set(name, value) {
    const key = headerName(name);
    const text = headerValue(value);
    const index = this._list.findIndex(([k]) => k === key);
    if (index < 0) {
      this._list.push([key, text]);
    } else {
      this._list[index][1] = text;
      this._list = this._list.filter(([k], i) => k !== key || i === index);
    }
  }

  /// Sorted by name, repeated headers combined (but set-cookie kept apart), as the standard says.
  *entries() {
    const names = [...new Set(this._list.map(([k]) => k))].sort();
    for (const name of names) {
      if (name === "set-cookie") {
        for (const value of this.getSetCookie()) yield [name, value];
      } else {
        yield [name, this.get(name)];
      }
    }
  }

  *keys() {
    for (const [k] of this.entries()) yield k;
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  forEach(callback, thisArg) {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  /// In insertion order, repeated headers apart: what goes over the wire. Internal.
  _pairs() {
    return this._list.map(([k, v]) => [k, v]);
  }
}

/// The body as bytes, and the content type it implies (if any).
function extractBody(body) {
  if (body === undefined || body === null) return [null, null];
  if (typeof body === "string") return [new TextEncoder().encode(body), "text/plain;charset=UTF-8"];
  if (body instanceof URLSearchParams) {
    return [new TextEncoder().encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [toBytes(body).slice(), null];
  return [new TextEncoder().encode(String(body)), "text/plain;charset=UTF-8"];
}

class Body {
  _initBody(bytes) {
    this._bytes = bytes;
    this._bodyUsed = false;
  }

  get body() {
    return this._bytes;
  }

  get bodyUsed() {
    return this._bodyUsed;
  }

  _consume() {
    if (this._bodyUsed) return Promise.reject(new TypeError("Body has already been used"));
    this._bodyUsed = true;
    return Promise.resolve(this._bytes || new Uint8Array(0));
  }

  arrayBuffer() {
    return this._consume().then((bytes) => bytes.slice().buffer);
  }

  bytes() {
    return this._consume().then((bytes) => bytes.slice());
  }

  text() {
    return this._consume().then((bytes) => new TextDecoder().decode(bytes));
  }

  json() {
    return this.text().then((text) => JSON.parse(text));
  }
}

export class Request extends Body {
  constructor(input, init = {}) {
    super();
    const from = input instanceof Request ? input : null;
    this.url = from ? from.url : new globalThis.URL(String(input)).href;
    const method = String(init.method ?? (from ? from.method : "GET"));
    if (!TOKEN.test(method)) throw new TypeError(`Invalid method: ${JSON.stringify(method)}`);
    const upper = method.toUpperCase();
    this.method = NORMALIZED_METHODS.includes(upper) ? upper : method;
    this.headers = new Headers(init.headers ?? (from ? from.headers : undefined));
    let bytes = from ? from._bytes : null;
    if (init.body !== undefined && init.body !== null) {
      const [body, type] = extractBody(init.body);
      bytes = body;
      if (type && !this.headers.has("content-type")) this.headers.set("content-type", type);
    }
    if (bytes && (this.method === "GET" || this.method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    this._initBody(bytes);
  }

  clone() {
    if (this._bodyUsed) throw new TypeError("Cannot clone a Request whose body was used");
    return new Request(this);
  }
}

export class Response extends Body {
  constructor(body = null, init = {}) {
    super();
    const status = init.status ?? 200;
    if (!Number.isInteger(status) || !(status === 101 || (status >= 200 && status <= 599))) {
      throw new RangeError(`Response status ${status} is outside the range [200, 599]`);
    }
    this.status = status;
    this.statusText = String(init.statusText ?? "");
    this.headers = new Headers(init.headers);
    const [bytes, type] = extractBody(body);
    if (bytes && NULL_BODY_STATUSES.includes(status)) {
      throw new TypeError(`Response with null body status ${status} cannot have body`);
    }
    if (type && !this.headers.has("content-type")) this.headers.set("content-type", type);
    this.type = "default";
    this.url = "";
    this.redirected = false;
    // Cloudflare's `new Response(null, { status: 101, webSocket: client })`. wdo's host
    // answers an accepted upgrade itself, so this is kept only for code that reads it back.
    this.webSocket = init.webSocket ?? null;
    this._initBody(bytes);
  }

  get ok() {
    return this.status >= 200 && this.status <= 299;
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the value cannot be serialized to JSON");
    const response = new Response(null, init);
    if (NULL_BODY_STATUSES.includes(response.status)) {
      throw new TypeError(`Response with null body status ${response.status} cannot have body`);
    }
    if (!response.headers.has("content-type")) response.headers.set("content-type", "application/json");
    response._bytes = utf8Encode(text);
    return response;
  }

  static redirect(url, status = 302) {
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid redirect status ${status}`);
    return new Response(null, { status, headers: { location: new globalThis.URL(String(url)).href } });
  }

  static error() {
    const response = new Response(null, { status: 200 });
    response.status = 0;
    response.type = "error";
    return response;
  }

  clone() {
    if (this._bodyUsed) throw new TypeError("Cannot clone a Response whose body was used");
    return new Response(this._bytes, this);
  }
}

/// A Request for what the host delivered: already valid, so built without re-parsing or
/// re-validating anything (QuickJS is slow enough for that to show). Internal.
export function requestFromHost(method, url, headerPairs, bytes) {
  const headers = Object.create(Headers.prototype);
  headers._list = headerPairs;
  const request = Object.create(Request.prototype);
  request.url = url;
  request.method = method;
  request.headers = headers;
  request._initBody(bytes);
  return request;
}

/// A Response for what the host delivered (an object's answer to a stub's `fetch`): built
/// without the constructor's checks, so that a 101 that accepted a WebSocket passes through.
/// Internal.
export function responseFromHost(status, headerPairs, bytes) {
  const headers = Object.create(Headers.prototype);
  headers._list = headerPairs;
  const response = Object.create(Response.prototype);
  response.status = status;
  response.statusText = "";
  response.headers = headers;
  response.type = "default";
  response.url = "";
  response.redirected = false;
  response.webSocket = null;
  response._initBody(bytes.length > 0 ? bytes : null);
  return response;
}
