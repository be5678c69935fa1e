// Test hooks for wdo objects, for Node.js tests (`node --test`, or any runner): start a real
// `wdo serve` on free loopback ports with a fresh data directory, speak HTTP to its objects,
// and through its admin API evict an object, run its alarm now, and read its storage.
//
//   import { startWdo } from "@wdo/sdk/testing";
//   const wdo = await startWdo({ namespaces: { counter: "dist/counter.wasm" } });
//   await wdo.fetch("/counter/a/increment", { method: "POST" });
//   await wdo.object("counter", "a").evict();        // the next event meets a new instance
//   (await wdo.object("counter", "a").storage()).get("count");   // 1
//   await wdo.stop();
//
// The `wdo` binary is `bin`, else `$WDO_BIN`, else `wdo` on the PATH. Each server gets a
// random admin token, so the hooks go through the same authentication as an operator's tools.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

/**
 * Starts `wdo serve`. `namespaces`: `{name: componentPath}`; or `config`: a project's
 * `wdo.toml` (its addresses and data directory are replaced by the test's own).
 * `settings`: top-level TOML lines added to the generated config (e.g. `idle-timeout = "1s"`).
 */
export async function startWdo({ namespaces, config, settings = [], bin, cacheDir } = {}) {
  if (!config && (!namespaces || Object.keys(namespaces).length === 0)) {
    throw new Error("startWdo: nothing to serve: give `namespaces` or `config`");
  }
  const dir = mkdtempSync(join(tmpdir(), "wdo-test-"));
  if (!config) {
    const cache = cacheDir ?? process.env.WDO_TEST_CACHE_DIR ?? join(tmpdir(), "wdo-testing-cache");
    let text = `cache-dir = ${JSON.stringify(cache)}\n${settings.join("\n")}\n`;
    for (const [name, component] of Object.entries(namespaces)) {
      text += `\n[[namespace]]\nname = ${JSON.stringify(name)}\ncomponent = ${JSON.stringify(resolve(component))}\n`;
    }
    config = join(dir, "wdo.toml");
    writeFileSync(config, text);
  }
  const token = randomBytes(16).toString("hex");
  const binary = bin ?? process.env.WDO_BIN ?? "wdo";
  const logPath = join(dir, "wdo.log");
  const child = spawn(
    binary,
    ["serve", "--config", config, "--data-dir", join(dir, "data"),
      "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
    { env: { ...process.env, WDO_ADMIN_TOKEN: token }, stdio: ["ignore", "pipe", openSync(logPath, "w")] },
  );
  const log = () => { try { return readFileSync(logPath, "utf8"); } catch { return ""; } };
  const line = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("no listening line within 60 s")), 60_000);
    child.once("error", (e) => { clearTimeout(timer); fail(new Error(`cannot start ${binary} (set WDO_BIN to the wdo binary): ${e.message}`)); });
    child.once("exit", (code) => { clearTimeout(timer); fail(new Error(`wdo exited with ${code}`)); });
    createInterface({ input: child.stdout }).once("line", (l) => { clearTimeout(timer); ok(l); });
  }).catch((e) => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`wdo did not start: ${e.message}\n${log()}`);
  });
  const match = /^wdo listening on (http:\/\/\S+) \(admin (http:\/\/\S+)\)/.exec(line);
  if (!match) {
    child.kill("SIGKILL");
    throw new Error(`wdo did not start: unexpected first line ${JSON.stringify(line)}`);
  }
  child.removeAllListeners("exit");
  return new Wdo(child, match[1], match[2], token, dir, log);
}

/** A running `wdo serve`. */
export class Wdo {
  #child; #admin; #token; #dir;
  constructor(child, url, admin, token, dir, log) {
    this.#child = child;
    this.baseUrl = url;
    this.#admin = admin;
    this.#token = token;
    this.#dir = dir;
    /** What the server logged so far. */
    this.log = log;
  }

  /** The public URL of `path`, e.g. `/counter/a/increment`. */
  url(path) {
    return this.baseUrl + path;
  }

  /** `fetch` on the public listener. */
  fetch(path, init) {
    return fetch(this.url(path), init);
  }

  /** The object named `name` (or `@<id>`) of `namespace`. */
  object(namespace, name) {
    return new ObjectHandle(this, `/v1/namespaces/${encodeURIComponent(namespace)}/objects/${encodeURIComponent(name)}`);
  }

  /** A request to the admin API; resolves to its JSON, rejects with the host's reason. */
  async admin(method, path, body) {
    const response = await fetch(this.#admin + path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let value = null;
    try { value = JSON.parse(text); } catch { /* not JSON */ }
    if (!response.ok) {
      throw new Error(`the admin API answered ${response.status}: ${value?.error ?? text}`);
    }
    return value;
  }

  /** Stops the server gracefully (in-flight events finish and commit). */
  async stop() {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** One object's hooks. */
export class ObjectHandle {
  #wdo; #path;
  constructor(wdo, path) {
    this.#wdo = wdo;
    this.#path = path;
  }

  /** Evicts the object and waits until its instance is gone (it finishes what is queued). */
  async evict() {
    await this.#wdo.admin("POST", `${this.#path}/evict`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await this.info();
      if (info.live === false) return;
      if (Date.now() > deadline) throw new Error(`the object is still live 30 s after its eviction: ${JSON.stringify(info)}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  /** Runs the alarm handler now, as the scheduler would; `false` without an alarm. */
  async runAlarm() {
    return (await this.#wdo.admin("POST", `${this.#path}/alarm/run`)).ran === true;
  }

  /** The alarm's time (ms since the epoch), or null. */
  async alarm() {
    return (await this.#wdo.admin("GET", `${this.#path}/alarm`)).scheduledMs ?? null;
  }

  /**
   * Every key-value entry (or those under `prefix`), in key order, as a Map. Values stored
   * as JSON (as the SDKs store them) come back parsed; other text as a string; bytes that
   * are not UTF-8 as a Uint8Array.
   */
  async storage({ prefix = "" } = {}) {
    const entries = new Map();
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: "1000", prefix });
      if (cursor) query.set("cursor", cursor);
      const page = await this.#wdo.admin("GET", `${this.#path}/kv?${query}`);
      for (const entry of page.entries) {
        entries.set(entry.key, "value" in entry ? parse(entry.value) : Uint8Array.from(Buffer.from(entry.valueHex, "hex")));
      }
      cursor = page.cursor;
    } while (cursor);
    return entries;
  }

  /** The summary: `sizeBytes`, `lastWriteMs`, `live`, `alarmMs`, `sockets`. */
  info() {
    return this.#wdo.admin("GET", this.#path);
  }

  /** One read-only SQL statement on the object's database: `{columns, rows}`. */
  sql(statement) {
    return this.#wdo.admin("POST", `${this.#path}/sql`, { sql: statement });
  }
}

function parse(text) {
  try { return JSON.parse(text); } catch { return text; }
}
