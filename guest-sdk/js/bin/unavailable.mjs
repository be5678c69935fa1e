// Stand-ins for the object-only WIT interfaces (state, storage, alarm, ...) in a Worker's
// bundle. A worker module usually imports `DurableObject` from the SDK (its objects live in
// the same file), and the SDK's modules import those interfaces; the `worker` world does
// not have them, so a worker build resolves each to a module with the same exports, read
// from the WIT, that throw when used.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const camel = (name) => name.replace(/^%/, "").replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (name) => camel(name).replace(/^[a-z]/, (c) => c.toUpperCase());

/// The JavaScript names of interface `name`'s functions and resources (as componentize-qjs
/// exposes them), from the `.wit` files in `witDir`; null if no file declares it.
export function interfaceExports(witDir, name) {
  for (const file of readdirSync(witDir).filter((n) => n.endsWith(".wit")).sort()) {
    const lines = readFileSync(join(witDir, file), "utf8").split("\n");
    const start = lines.findIndex((line) => line.trim().startsWith(`interface ${name} `) || line.trim() === `interface ${name}{`);
    if (start < 0) continue;
    const functions = [];
    const resources = [];
    let depth = 0;
    for (const raw of lines.slice(start)) {
      const line = raw.replace(/\/\/.*$/, "");
      if (depth === 1) {
        const func = /^\s*(%?[a-z][a-z0-9-]*)\s*:\s*func\b/.exec(line);
        const resource = /^\s*resource\s+([a-z][a-z0-9-]*)/.exec(line);
        if (func) functions.push(camel(func[1]));
        if (resource) resources.push(pascal(resource[1]));
      }
      depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
      if (depth === 0 && line.includes("}")) break;
    }
    return { functions, resources };
  }
  return null;
}

/// The source of the stand-in module for `specifier` (e.g. "wdo:object/storage@0.1.0").
export function unavailableModule(witDir, specifier) {
  const name = /^wdo:object\/([a-z0-9-]+)@/.exec(specifier)?.[1];
  const found = name ? interfaceExports(witDir, name) : null;
  if (!found) throw new Error(`a worker imports ${specifier}, which is neither in the worker world nor in ${witDir}`);
  const lines = [
    "function unavailable(what) {",
    "  return function () {",
    "    throw new Error(`${what} is only available inside a Durable Object, not in a Worker`);",
    "  };",
    "}",
    "function unavailableResource(what) {",
    "  return new Proxy(unavailable(what), { get: (_, p) => (typeof p === \"string\" ? unavailable(`${what}.${p}`) : undefined) });",
    "}",
  ];
  // Through locals, since a WIT name may be a reserved word (`delete`).
  found.functions.forEach((f, i) => lines.push(`const f${i} = unavailable(${JSON.stringify(`${name}.${f}()`)});`, `export { f${i} as ${f} };`));
  found.resources.forEach((r, i) => lines.push(`const r${i} = unavailableResource(${JSON.stringify(`${name}.${r}`)});`, `export { r${i} as ${r} };`));
  return `${lines.join("\n")}\n`;
}
