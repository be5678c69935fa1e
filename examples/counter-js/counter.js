// `counter-js`: the Counter of Cloudflare's Durable Objects docs, unchanged but for the
// import line. HTTP contract: EXAMPLES.md, "counter".
//
// - `GET|POST /increment` → `{"count": N}`, N after incrementing by one.
// - `GET /get` → `{"count": N}` (0 for a new object).
import { DurableObject } from "@wdo/sdk";

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/increment") {
      let count = (await this.ctx.storage.get("count")) || 0;
      count++;
      await this.ctx.storage.put("count", count);
      return Response.json({ count });
    }
    if (url.pathname === "/get") {
      const count = (await this.ctx.storage.get("count")) || 0;
      return Response.json({ count });
    }
    return new Response("Not Found", { status: 404 });
  }
}
