// The counter example (examples/counter, EXAMPLES.md "counter") as a JavaScript Durable
// Object for workerd, so that both runtimes serve the same HTTP contract:
//   GET|POST /counter/{name}/increment -> {"count": N}
//   GET      /counter/{name}/get       -> {"count": N}
// The count lives in the object's SQLite-backed storage (enableSql in config.capnp); a
// write is committed before the response leaves (workerd's output gate).
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    const method = request.method;
    if (path === "/increment" && (method === "GET" || method === "POST")) {
      const count = ((await this.ctx.storage.get("count")) ?? 0) + 1;
      await this.ctx.storage.put("count", count);
      return Response.json({ count });
    }
    if (path === "/get" && method === "GET") {
      const count = (await this.ctx.storage.get("count")) ?? 0;
      return Response.json({ count });
    }
    return new Response("not found", { status: 404 });
  }
}
