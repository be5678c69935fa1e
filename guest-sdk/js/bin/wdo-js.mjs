#!/usr/bin/env node
// wdo-js: builds a JavaScript Durable Object class, or a Worker, into a wdo component.
//
//   wdo-js build <module.js> --class <Name> --out <file.wasm> [--wit <dir>] [--force]
//   wdo-js build --worker <module.js> --out <file.wasm> [--wit <dir>] [--force]
//
// 1. Bundles (rolldown) a generated entry module that imports the SDK runtime and the
//    module, and exports the handler interfaces for the class (`fetchHandler`,
//    `alarmHandler`, `websocketHandler`, `rpcHandler`) or for the module's default export, a
//    Worker (`fetchHandler`). `cloudflare:workers` and `@wdo/sdk` resolve to the SDK; in a
//    Worker, the object-only WIT interfaces resolve to stand-ins (bin/unavailable.mjs).
//    `async`/`await` is lowered
//    to generators over the global Promise, which the SDK replaces with one whose jobs it
//    runs itself (QuickJS, built without an event loop, never runs its own).
// 2. Skips the rest if <file.wasm> was built from exactly the same bundle, WIT and toolchain
//    (a hash kept in <file.wasm>.inputs), so repeated builds cost about a second.
// 3. Componentizes the bundle with componentize-qjs (QuickJS, non-async runtime) against the
//    SDK's world: wdo's `object` (or `worker`) world (from --wit, default: the repository's
//    wit/) plus wasi:cli/stderr for `console` and wasi:http's outgoing handler for `fetch`.

import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { unavailableModule } from "./unavailable.mjs";

const sdkRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = "\0wdo-entry.js";
const UNAVAILABLE = "\0wdo-unavailable:";
/// The WIT interfaces a Worker has (everything else of wdo's is an object's).
const WORKER_IMPORTS = /^(wasi:|wdo:object\/namespaces@)/;

function usage(message) {
  if (message) console.error(`wdo-js: ${message}`);
  console.error("usage: wdo-js build <module.js> --class <Name> --out <file.wasm> [--wit <dir>] [--force]");
  console.error("       wdo-js build --worker <module.js> --out <file.wasm> [--wit <dir>] [--force]");
  process.exit(2);
}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (command !== "build") usage(command ? `unknown command ${JSON.stringify(command)}` : "");
  const options = { force: false, worker: false, wit: resolve(sdkRoot, "../../wit") };
  const positional = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const value = () => rest[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--class") options.className = value();
    else if (arg === "--out" || arg === "-o") options.out = resolve(value());
    else if (arg === "--wit") options.wit = resolve(value());
    else if (arg === "--force") options.force = true;
    else if (arg === "--worker") options.worker = true;
    else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) usage("give exactly one module");
  if (options.worker && options.className) usage("give --class (an object) or --worker, not both");
  if (!options.worker && (!options.className || !/^[A-Za-z_$][\w$]*$/.test(options.className))) {
    usage("--class must name the exported class (or give --worker to build the module's default export as a Worker)");
  }
  if (!options.out) usage("--out is required");
  options.module = resolve(positional[0]);
  if (!existsSync(options.module)) usage(`no such module: ${options.module}`);
  if (!existsSync(join(options.wit, "object.wit"))) usage(`no wdo WIT package in ${options.wit} (expected object.wit)`);
  return options;
}

function entrySource(options) {
  if (options.worker) {
    return [
      `import { exportWorker } from ${JSON.stringify(join(sdkRoot, "src/worker.js"))};`,
      `import * as workerModule from ${JSON.stringify(options.module)};`,
      `export const { fetchHandler } = exportWorker(workerModule.default);`,
      "",
    ].join("\n");
  }
  const runtime = join(sdkRoot, "src/runtime.js");
  return [
    `import { exportObject } from ${JSON.stringify(runtime)};`,
    `import * as objectModule from ${JSON.stringify(options.module)};`,
    `const ObjectClass = objectModule[${JSON.stringify(options.className)}];`,
    `if (typeof ObjectClass !== "function") {`,
    `  throw new Error(${JSON.stringify(`${relative(process.cwd(), options.module)} does not export a class named ${options.className}`)});`,
    `}`,
    `export const { fetchHandler, alarmHandler, websocketHandler, rpcHandler } = exportObject(ObjectClass);`,
    "",
  ].join("\n");
}

async function bundle(options) {
  const { rolldown } = await import("rolldown");
  const build = await rolldown({
    input: ENTRY,
    cwd: dirname(options.module),
    platform: "neutral",
    // WIT interfaces are imported by name and bound by the componentizer.
    external: (id) => /^(wdo|wasi):/.test(id) && (!options.worker || WORKER_IMPORTS.test(id)),
    resolve: {
      alias: { "@wdo/sdk": join(sdkRoot, "src/index.js"), "cloudflare:workers": join(sdkRoot, "src/index.js") },
      mainFields: ["module", "main"],
    },
    // ES2016: async functions become generators driven through the global Promise.
    transform: { target: "es2016" },
    plugins: [
      {
        name: "wdo-entry",
        resolveId: (id) => {
          if (id === ENTRY) return ENTRY;
          // Only a worker's object-only interfaces get here (the rest are external).
          if (options.worker && /^wdo:/.test(id) && !WORKER_IMPORTS.test(id)) return UNAVAILABLE + id;
          return null;
        },
        load: (id) => {
          if (id === ENTRY) return entrySource(options);
          if (id.startsWith(UNAVAILABLE)) return unavailableModule(options.wit, id.slice(UNAVAILABLE.length));
          return null;
        },
      },
    ],
  });
  try {
    const { output } = await build.generate({ format: "esm", codeSplitting: false });
    const chunks = output.filter((item) => item.type === "chunk");
    if (chunks.length !== 1) throw new Error(`bundling produced ${chunks.length} chunks; dynamic import() is not supported`);
    return chunks[0].code;
  } finally {
    await build.close();
  }
}

function witFiles(dir) {
  const files = [];
  const walk = (path) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith(".wit")) files.push(full);
    }
  };
  walk(dir);
  return files;
}

/// The SDK's world with wdo's WIT package (and any deps it carries) beside it.
function assembleWit(options) {
  const dir = mkdtempSync(join(tmpdir(), "wdo-js-wit-"));
  const deps = join(dir, "deps");
  if (existsSync(join(options.wit, "deps"))) cpSync(join(options.wit, "deps"), deps, { recursive: true });
  mkdirSync(join(deps, "wdo-object"), { recursive: true });
  for (const name of readdirSync(options.wit).filter((n) => n.endsWith(".wit"))) {
    cpSync(join(options.wit, name), join(deps, "wdo-object", name));
  }
  for (const name of ["io", "cli"]) {
    if (!existsSync(join(deps, name))) cpSync(join(sdkRoot, "wit/deps", name), join(deps, name), { recursive: true });
  }
  // wasi:http and what it uses, under the stand-in version (see HTTP_STAND_IN).
  for (const [from, to] of [["http", "http"], ["clocks", "clocks"], ["io", "io-http"]]) {
    for (const name of readdirSync(join(sdkRoot, "wit/deps", from)).filter((n) => n.endsWith(".wit"))) {
      mkdirSync(join(deps, to), { recursive: true });
      writeFileSync(join(deps, to, name), standIn(readFileSync(join(sdkRoot, "wit/deps", from, name), "utf8")));
    }
  }
  writeFileSync(join(dir, "world.wit"), standIn(readFileSync(join(sdkRoot, "wit/world.wit"), "utf8"), /wasi:http\//));
  return dir;
}

// componentize-qjs 0.4.5 cannot initialize (Wizer) a component that imports wasi:http: its
// initialization linker stubs every import it does not implement before it adds wasmtime's
// WASI, so the stub of wasi:http/types re-exports stand-in `input-stream`/`pollable` types
// that differ from wasi:io's real ones, and instantiation fails. So the component is built
// with wasi:http, wasi:io and wasi:clocks (for wasi:http only) under a version the linker
// does not implement (all stubs then, consistently; nothing calls them during
// initialization), and the finished component's imports are renamed to the real version: a
// same-length byte substitution (`@1.2.11` -> `@0.2.11`, which hosts of wasi 0.2.12 accept
// as a compatible older patch). console keeps importing wasi:cli and wasi:io at 0.2.12.
const HTTP_STAND_IN = "@1.2.11";
const HTTP_VERSION = "@0.2.11";

/// `text` with wasi:http/io/clocks references at 0.2.12 moved to the stand-in version (only
/// those matching `only`, if given).
function standIn(text, only) {
  return text.replace(/(wasi:[a-z-]+(?:\/[a-z-]+)?)@0\.2\.12/g, (match, name) =>
    !only || only.test(name + "/") ? `${name}${HTTP_STAND_IN}` : match,
  );
}

/// The component with the stand-in version of WASI names (`wasi:io/streams@1.2.11`, and in
/// the snapshot's strings too) renamed to the real one; other text (a module's own
/// `"lib@1.2.11"`) is left alone. Latin-1 maps bytes one to one, so lengths are kept.
function renameStandIn(component) {
  const text = Buffer.from(component).toString("latin1");
  const pattern = new RegExp(`(wasi:[a-z-]+(?:/[a-z-]+)?)${HTTP_STAND_IN.replace(/\./g, "\\.")}`, "g");
  return Buffer.from(text.replace(pattern, (_, name) => `${name}${HTTP_VERSION}`), "latin1");
}

function inputsHash(source, witDir) {
  const hash = createHash("sha256");
  const toolchain = JSON.parse(readFileSync(join(sdkRoot, "package-lock.json"), "utf8")).packages;
  hash.update(`componentize-qjs ${toolchain["node_modules/componentize-qjs"]?.version} sync\n`);
  for (const file of witFiles(witDir)) hash.update(`${relative(witDir, file)}\n`).update(readFileSync(file));
  hash.update(source);
  return hash.digest("hex");
}

async function build(options) {
  const started = Date.now();
  const source = await bundle(options);
  const witDir = assembleWit(options);
  try {
    const stamp = `${options.out}.inputs`;
    const hash = inputsHash(source, witDir);
    const upToDate = existsSync(options.out) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash;
    if (upToDate && !options.force) {
      console.error(`wdo-js: ${relative(process.cwd(), options.out)} is up to date`);
      return;
    }
    const { componentize } = await import("componentize-qjs");
    const world = options.worker ? "js-worker" : "js-object";
    const built = await componentize({ witPath: witDir, world, jsSource: standIn(source, /^wasi:http\//), sync: true });
    const component = renameStandIn(built.component);
    mkdirSync(dirname(options.out), { recursive: true });
    const tmp = `${options.out}.tmp${process.pid}`;
    writeFileSync(tmp, component);
    renameSync(tmp, options.out);
    writeFileSync(stamp, `${hash}\n`);
    const size = (component.length / 1e6).toFixed(1);
    console.error(`wdo-js: built ${relative(process.cwd(), options.out)} (${size} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(witDir, { recursive: true, force: true });
  }
}

build(parseArgs(process.argv.slice(2))).catch((error) => {
  console.error(`wdo-js: build failed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
