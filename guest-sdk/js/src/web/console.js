// `console`, writing lines to the component's standard error, which the host logs tagged
// with the object (QuickJS has no console of its own).

import { getStderr } from "wasi:cli/stderr@0.2.12";
import { utf8Encode } from "./encoding.js";

// blocking-write-and-flush accepts at most 4096 bytes per call.
const MAX_WRITE = 4096;
let stream = null;

function write(text) {
  stream ??= getStderr();
  const bytes = utf8Encode(text);
  for (let at = 0; at < bytes.length; at += MAX_WRITE) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + MAX_WRITE));
  }
}

/// A readable rendering of any value, for log lines.
export function inspect(value, depth = 0) {
  if (typeof value === "string") return depth === 0 ? value : JSON.stringify(value);
  if (value instanceof Error) {
    const head = `${value.name}: ${value.message}`;
    return value.stack ? `${head}\n${value.stack.replace(/\s+$/, "")}` : head;
  }
  if (typeof value === "function") return `[Function ${value.name || "(anonymous)"}]`;
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || value === undefined || value === null || typeof value !== "object") {
    return String(value);
  }
  if (depth > 3) return Array.isArray(value) ? "[Array]" : "[Object]";
  if (value instanceof Map) {
    const items = [...value].map(([k, v]) => `${inspect(k, depth + 1)} => ${inspect(v, depth + 1)}`);
    return `Map(${value.size}) {${items.length ? ` ${items.join(", ")} ` : ""}}`;
  }
  if (value instanceof Set) {
    const items = [...value].map((v) => inspect(v, depth + 1));
    return `Set(${value.size}) {${items.length ? ` ${items.join(", ")} ` : ""}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => inspect(v, depth + 1)).join(", ")}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length}) [${Array.from(value).join(", ")}]`;
  const name = value.constructor && value.constructor !== Object ? `${value.constructor.name} ` : "";
  const fields = Object.keys(value).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(value[k], depth + 1)}`);
  return `${name}{${fields.length ? ` ${fields.join(", ")} ` : ""}}`;
}

function line(level) {
  return (...args) => {
    const text = args.map((arg) => inspect(arg)).join(" ");
    write(level ? `${level} ${text}\n` : `${text}\n`);
  };
}

export const console = {
  log: line(""),
  info: line(""),
  debug: line("DEBUG"),
  warn: line("WARN"),
  error: line("ERROR"),
  trace: line("TRACE"),
};
