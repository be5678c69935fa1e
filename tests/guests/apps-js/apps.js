// The JavaScript SDK's applications through the real host (tests/integration/js_apps.rs):
// one object class, `AppProbe`, served as namespaces `apps-a` and `apps-b` (each with the
// bindings A and B), whose HTTP routes call other objects through stubs, and whose methods
// are called by RPC; and a worker (the default export) in front of them.
//
// Object routes (`/<ns>/<name>/...`):
// - `POST /call` `{"binding", "name", "method", "args", "then"}` → `await
//   env[binding].getByName(name)[method](...args)` → `{"result": R}`, or `{"error": message,
//   "code": code, "remote": bool}` for an error the caller caught. `then`: "write" also puts
//   "after-call" = true, "throw" throws after the call (the caller's event fails: 500).
// - `POST /fetch` `{"binding", "name", "path", "method", "body"}` → the callee's answer to
//   `stub.fetch("http://any" + path, {method, body})` as `{"status", "body", "type"}`.
// - `GET /ids?binding=B&id=HEX` → what the namespace makes of ids (see `ids` below).
// - `GET /get?key=K` → `{"value": V}` from storage; `GET /whoami` → this object's id and name.
// - `POST .../echo` (any path ending so, any body) → `{"method", "path", "body", "header"}` as the object received them.
// RPC methods: `add(key, n)` → the new total under key; `fail(key, message)` writes, then
// throws `message`; `echo(...args)` → args; `whoami()`; `callBack(binding, name, method)` →
// calls back into `name` (a cycle when `name` is the caller); `never()` awaits forever.
//
// Worker (`wdo-js build --worker`; the class form, `extends WorkerEntrypoint`), for every request: `?via=rpc&name=N&by=K` →
// `await env.A.getByName(N).add("n", K)` → `{"result": R}`; `?via=fetch&name=N` → forwards the
// request to object N of A (`stub.fetch(request)`); `?via=ids&id=HEX` → `env.A.idFromString`
// (a bad id: 400 with the message); `?via=wait` → answers after a `ctx.waitUntil` write.
import { DurableObject, WorkerEntrypoint } from "cloudflare:workers";

export class AppProbe extends DurableObject {
  hidden = () => "an instance property";

  async fetch(request) {
    const url = new URL(request.url);
    const q = url.searchParams;
    switch (url.pathname) {
      case "/call": {
        const { binding, name, method, args = [], then } = await request.json();
        let answer;
        try {
          answer = { result: await this.env[binding].getByName(name)[method](...args) };
        } catch (error) {
          answer = { error: error.message, code: error.code, remote: error.remote };
        }
        if (then === "write") await this.ctx.storage.put("after-call", true);
        if (then === "throw") {
          await this.ctx.storage.put("after-call", true);
          throw new Error("the caller fails after its call");
        }
        return Response.json(answer);
      }
      case "/fetch": {
        const { binding, name, path, method = "GET", body } = await request.json();
        const stub = this.env[binding].getByName(name);
        const response = await stub.fetch(`http://any${path}`, { method, body, headers: { "x-probe": "yes" } });
        return Response.json({ status: response.status, body: await response.text(), type: response.headers.get("content-type") });
      }
      case "/ids":
        return Response.json(this.ids(q.get("binding"), q.get("id")));
      case "/get":
        return Response.json({ value: (await this.ctx.storage.get(q.get("key"))) ?? null });
      case "/whoami":
        return Response.json(this.whoami());
      default:
        if (!url.pathname.endsWith("/echo")) return new Response(`no route ${url.pathname}`, { status: 404 });
        return Response.json({
          method: request.method,
          path: url.pathname + url.search,
          body: await request.text(),
          header: request.headers.get("x-probe"),
        });
    }
  }

  ids(binding, hex) {
    const ns = this.env[binding];
    const attempt = (make) => {
      try {
        return { id: make().toString() };
      } catch (error) {
        return { error: error.message, code: error.code, type: error.name };
      }
    };
    const named = ns.idFromName("x");
    const unique = ns.newUniqueId();
    return {
      bindings: Object.keys(this.env).sort(),
      greeting: this.env.GREETING ?? null,
      named: named.toString(),
      namedName: named.name,
      sameName: named.equals(ns.idFromName("x")),
      uniqueHasName: unique.name !== undefined,
      uniqueDiffers: !unique.equals(ns.newUniqueId()),
      roundTrip: ns.idFromString(unique.toString().toUpperCase()).equals(unique),
      parsed: attempt(() => ns.idFromString(hex)),
      got: attempt(() => ns.get(ns.idFromString(hex)).id),
      foreign: attempt(() => ns.get(this.ctx.id).id),
      stubThen: ns.getByName("x").then === undefined,
    };
  }

  async add(key, n) {
    const total = ((await this.ctx.storage.get(key)) ?? 0) + n;
    await this.ctx.storage.put(key, total);
    return total;
  }

  async fail(key, message) {
    await this.ctx.storage.put(key, "written before the error");
    throw new Error(message);
  }

  echo(...args) {
    return args;
  }

  whoami() {
    return { id: this.ctx.id.toString(), name: this.ctx.id.name ?? null };
  }

  async callBack(binding, name, method) {
    try {
      return { result: await this.env[binding].getByName(name)[method]() };
    } catch (error) {
      return { error: error.message, code: error.code };
    }
  }

  never() {
    return new Promise(() => {});
  }

  _private() {
    return "private";
  }

  get getter() {
    return "a getter";
  }
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const { env, ctx } = this;
    const q = new URL(request.url).searchParams;
    switch (q.get("via")) {
      case "rpc":
        return Response.json({ result: await env.A.getByName(q.get("name")).add("n", Number(q.get("by"))) });
      case "fetch":
        return env.A.get(env.A.idFromName(q.get("name"))).fetch(request);
      case "ids":
        try {
          return Response.json({ id: env.A.idFromString(q.get("id")).toString() });
        } catch (error) {
          return Response.json({ error: error.message, code: error.code }, { status: 400 });
        }
      case "wait":
        ctx.waitUntil(env.A.getByName(q.get("name")).add("waited", 1));
        return Response.json({ vars: env.GREETING ?? null });
      default:
        return new Response("give ?via=rpc|fetch|ids|wait", { status: 400 });
    }
  }
}
