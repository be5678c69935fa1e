// `URL` and `URLSearchParams` for engines that lack them (QuickJS): the parts of the WHATWG
// URL standard that objects use — absolute and relative parsing, special-scheme
// normalisation (lower-case host, default port dropped, dot segments removed, percent-
// encoding of what must be encoded) and the search params. No IDNA, no IPv4 number forms.

import { utf8Decode, utf8Encode } from "./encoding.js";

const SPECIAL_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };

function percentEncode(text, keep) {
  let out = "";
  for (const char of text) {
    if (char.length === 1 && char.charCodeAt(0) < 0x80 && keep(char)) {
      out += char;
    } else {
      for (const byte of utf8Encode(char)) {
        out += "%" + (byte < 16 ? "0" : "") + byte.toString(16).toUpperCase();
      }
    }
  }
  return out;
}

/// Decodes %XX escapes (invalid ones are kept) and the UTF-8 they spell.
function percentDecode(text) {
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      bytes.push(...utf8Encode(text[i] + (c >= 0xd800 && c <= 0xdbff ? text[++i] || "" : "")));
    }
  }
  return utf8Decode(bytes);
}

const controlOrSpace = (c) => c > " " && c !== "\x7f";
const keepInPath = (c) => controlOrSpace(c) && !'"#<>?`{}'.includes(c);
const keepInQuery = (special) => (c) => controlOrSpace(c) && !'"#<>'.includes(c) && !(special && c === "'");
const keepInFragment = (c) => controlOrSpace(c) && !'"<>`'.includes(c);
const keepInForm = (c) => /[A-Za-z0-9*\-._]/.test(c);

function removeDotSegments(path) {
  const output = [];
  const segments = path.split("/").slice(1);
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    const s = segment.toLowerCase();
    if (s === ".." || s === ".%2e" || s === "%2e." || s === "%2e%2e") {
      output.pop();
      if (last) output.push("");
    } else if (s === "." || s === "%2e") {
      if (last) output.push("");
    } else {
      output.push(segment);
    }
  });
  return "/" + output.join("/");
}

// An http(s)/ws(s) URL that needs no normalisation but the host's case and the default
// port: printable ASCII that may stay unencoded in each part. Most URLs an object sees are
// like this, and QuickJS is slow enough that skipping the general parser matters.
const SIMPLE_URL =
  /^(https?|wss?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\/[!$-;=@-\[\]-_a-z|~]*)?(\?[!$-&(-;=?-~]*)?(#[!#-;=?-_a-~]*)?$/;

function parseSimple(input) {
  const match = SIMPLE_URL.exec(input);
  if (!match || (match[4] && match[4].indexOf("/.") >= 0)) return null;
  const protocol = match[1] + ":";
  let port = match[3] === undefined ? "" : String(Number(match[3]));
  if (Number(port) > 65535) return null;
  if (port === SPECIAL_PORTS[protocol]) port = "";
  return {
    protocol,
    username: "",
    password: "",
    hostname: match[2].toLowerCase(),
    port,
    pathname: match[4] || "/",
    search: match[5] === "?" || match[5] === undefined ? "" : match[5],
    hash: match[6] === "#" || match[6] === undefined ? "" : match[6],
    hasAuthority: true,
    simple: true,
  };
}

function parseAbsolute(input) {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(input);
  if (!match) return null;
  const protocol = match[1].toLowerCase() + ":";
  let rest = match[2];
  const special = protocol in SPECIAL_PORTS;
  if (special) rest = rest.replace(/\\/g, "/");
  const parts = { protocol, username: "", password: "", hostname: "", port: "", pathname: "", search: "", hash: "" };
  const hashAt = rest.indexOf("#");
  if (hashAt >= 0) {
    parts.hash = rest.slice(hashAt);
    rest = rest.slice(0, hashAt);
  }
  const queryAt = rest.indexOf("?");
  if (queryAt >= 0) {
    parts.search = rest.slice(queryAt);
    rest = rest.slice(0, queryAt);
  }
  if (special || rest.startsWith("//")) {
    rest = special ? rest.replace(/^\/*/, "") : rest.slice(2);
    const slash = rest.indexOf("/");
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    rest = slash >= 0 ? rest.slice(slash) : "";
    let hostPort = authority;
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      const [user, ...pass] = authority.slice(0, at).split(":");
      parts.username = user;
      parts.password = pass.join(":");
      hostPort = authority.slice(at + 1);
    }
    const portMatch = /:(\d*)$/.exec(hostPort);
    if (portMatch && !hostPort.endsWith("]")) {
      parts.port = portMatch[1];
      hostPort = hostPort.slice(0, portMatch.index);
    }
    if (special && protocol !== "file:" && hostPort === "") return null;
    if (/[\s#%/:<>?@[\\\]^|]/.test(hostPort.replace(/^\[[0-9A-Fa-f:.]+\]$/, ""))) return null;
    parts.hostname = special ? percentDecode(hostPort).toLowerCase() : hostPort;
    if (parts.port !== "") {
      const port = Number(parts.port);
      if (port > 65535) return null;
      parts.port = String(port) === SPECIAL_PORTS[protocol] ? "" : String(port);
    }
    parts.pathname = rest === "" && special ? "/" : rest;
    parts.hasAuthority = true;
  } else {
    parts.pathname = rest;
  }
  return parts;
}

function resolveRelative(input, base) {
  const special = base.protocol in SPECIAL_PORTS;
  let ref = special ? input.replace(/\\/g, "/") : input;
  if (ref.startsWith("//")) return parseAbsolute(base.protocol + ref);
  const parts = { ...base, hash: "" };
  const hashAt = ref.indexOf("#");
  if (hashAt >= 0) {
    parts.hash = ref.slice(hashAt);
    ref = ref.slice(0, hashAt);
  }
  if (ref === "") return parts;
  const queryAt = ref.indexOf("?");
  if (queryAt >= 0) {
    parts.search = ref.slice(queryAt);
    ref = ref.slice(0, queryAt);
  } else {
    parts.search = "";
  }
  if (ref === "") return parts;
  if (!base.hasAuthority && !base.pathname.startsWith("/")) return null; // opaque base
  parts.pathname = ref.startsWith("/") ? ref : base.pathname.replace(/[^/]*$/, "") + ref;
  return parts;
}

export class URL {
  constructor(input, base) {
    const text = String(input).replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "").replace(/[\t\n\r]/g, "");
    let parts = parseSimple(text) || parseAbsolute(text);
    if (!parts && base !== undefined) {
      const baseUrl = base instanceof URL ? base : new URL(base);
      parts = resolveRelative(text, baseUrl._parts);
    }
    if (!parts) throw new TypeError(`Invalid URL: ${JSON.stringify(String(input))}`);
    this._parts = parts;
    if (!parts.simple) this._normalize();
    this._searchParams = null;
  }

  _normalize() {
    const p = this._parts;
    const special = p.protocol in SPECIAL_PORTS;
    if (p.hasAuthority || p.pathname.startsWith("/")) {
      p.pathname = percentEncode(p.pathname, keepInPath);
      if (special || p.hasAuthority) p.pathname = removeDotSegments(p.pathname || "/");
    } else {
      p.pathname = percentEncode(p.pathname, (c) => c >= " " && c !== "\x7f");
    }
    if (p.search === "?") p.search = "";
    p.search = percentEncode(p.search, keepInQuery(special));
    if (p.hash === "#") p.hash = "";
    p.hash = percentEncode(p.hash, keepInFragment);
  }

  static canParse(input, base) {
    try {
      new URL(input, base);
      return true;
    } catch {
      return false;
    }
  }

  static parse(input, base) {
    try {
      return new URL(input, base);
    } catch {
      return null;
    }
  }

  get protocol() { return this._parts.protocol; }
  get username() { return this._parts.username; }
  get password() { return this._parts.password; }
  get hostname() { return this._parts.hostname; }
  get port() { return this._parts.port; }
  get host() {
    const { hostname, port } = this._parts;
    return port ? `${hostname}:${port}` : hostname;
  }
  get pathname() { return this._parts.pathname; }
  get search() { return this._parts.search; }
  get hash() { return this._parts.hash; }
  get searchParams() {
    if (this._searchParams === null) {
      this._searchParams = new URLSearchParams(this._parts.search);
      this._searchParams._url = this;
    }
    return this._searchParams;
  }

  get origin() {
    const { protocol } = this._parts;
    return protocol in SPECIAL_PORTS && protocol !== "file:" ? `${protocol}//${this.host}` : "null";
  }

  get href() {
    const p = this._parts;
    let auth = "";
    if (p.hasAuthority) {
      const user = p.username + (p.password ? `:${p.password}` : "");
      auth = "//" + (user ? `${user}@` : "") + this.host;
    }
    return p.protocol + auth + p.pathname + p.search + p.hash;
  }

  set pathname(value) {
    this._parts.pathname = String(value).startsWith("/") ? String(value) : "/" + value;
    this._normalize();
  }

  set search(value) {
    const text = String(value);
    this._parts.search = text === "" || text.startsWith("?") ? text : "?" + text;
    this._normalize();
    if (this._searchParams) this._searchParams._list = parseForm(this._parts.search);
  }

  set hash(value) {
    const text = String(value);
    this._parts.hash = text === "" || text.startsWith("#") ? text : "#" + text;
    this._normalize();
  }

  set href(value) {
    const url = new URL(value);
    this._parts = url._parts;
    if (this._searchParams) this._searchParams._list = parseForm(this._parts.search);
  }

  toString() { return this.href; }
  toJSON() { return this.href; }
}

function parseForm(text) {
  const query = text.startsWith("?") ? text.slice(1) : text;
  return query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq >= 0 ? pair.slice(0, eq) : pair;
      const value = eq >= 0 ? pair.slice(eq + 1) : "";
      return [percentDecode(name.replace(/\+/g, " ")), percentDecode(value.replace(/\+/g, " "))];
    });
}

export class URLSearchParams {
  constructor(init = "") {
    this._url = null;
    if (init instanceof URLSearchParams) {
      this._list = init._list.map(([k, v]) => [k, v]);
    } else if (typeof init === "object" && init !== null && typeof init[Symbol.iterator] === "function") {
      this._list = Array.from(init, (pair) => {
        const entry = Array.from(pair);
        if (entry.length !== 2) throw new TypeError("URLSearchParams: each pair must have two items");
        return [String(entry[0]), String(entry[1])];
      });
    } else if (typeof init === "object" && init !== null) {
      this._list = Object.keys(init).map((key) => [key, String(init[key])]);
    } else {
      this._list = parseForm(String(init));
    }
  }

  _update() {
    if (this._url) {
      const text = this.toString();
      this._url._parts.search = text ? "?" + text : "";
    }
  }

  get size() { return this._list.length; }
  append(name, value) {
    this._list.push([String(name), String(value)]);
    this._update();
  }
  delete(name, value) {
    this._list = this._list.filter(([k, v]) => !(k === String(name) && (value === undefined || v === String(value))));
    this._update();
  }
  get(name) {
    const entry = this._list.find(([k]) => k === String(name));
    return entry ? entry[1] : null;
  }
  getAll(name) {
    return this._list.filter(([k]) => k === String(name)).map(([, v]) => v);
  }
  has(name, value) {
    return this._list.some(([k, v]) => k === String(name) && (value === undefined || v === String(value)));
  }
  set(name, value) {
    const key = String(name);
    const index = this._list.findIndex(([k]) => k === key);
    if (index < 0) {
      this._list.push([key, String(value)]);
    } else {
      this._list[index][1] = String(value);
      this._list = this._list.filter(([k], i) => k !== key || i === index);
    }
    this._update();
  }
  sort() {
    this._list = this._list
      .map((entry, i) => [entry, i])
      .sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j))
      .map(([entry]) => entry);
    this._update();
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this._list) callback.call(thisArg, v, k, this);
  }
  *entries() { yield* this._list.map(([k, v]) => [k, v]); }
  *keys() { for (const [k] of this._list) yield k; }
  *values() { for (const [, v] of this._list) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  toString() {
    const encode = (s) => percentEncode(s, (c) => keepInForm(c) || c === " ").replace(/ /g, "+");
    return this._list.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
  }
}
