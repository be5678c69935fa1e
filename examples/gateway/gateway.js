// A Worker in front of a Durable Object, as in Cloudflare's "Calling a Durable Object from a
// Worker": the worker (this module's default export, built with `--worker`) owns the
// `/gateway/` routes and reaches the `Counter` class (built with `--class Counter`, served as
// namespace `gateway-counter`) through its binding `COUNTER`.
//
// - `GET /gateway/increment`, `GET /gateway/get` → forwarded unchanged by `stub.fetch` to the
//   counter named "global-counter" → `{"count": N}`.
// - `POST /gateway/add?by=N` → `await stub.add(N)` (RPC) → `{"count": N}`.
// - `GET /gateway/count?name=X` → `await env.COUNTER.getByName(X).count()` (RPC) → `{"count": N}`.
// - The counter's own URLs work as well: `/gateway-counter/<name>/increment` and `/get`.
//   Its RPC methods: `add(by)` → the new count (`by` must be an integer), `count()` → the count.
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);

    if (url.pathname === "/gateway/add") {
      const stub = env.COUNTER.get(env.COUNTER.idFromName("global-counter"));
      const count = await stub.add(Number(url.searchParams.get("by") ?? "1"));
      return Response.json({ count });
    }
    if (url.pathname === "/gateway/count") {
      const count = await env.COUNTER.getByName(url.searchParams.get("name") ?? "global-counter").count();
      return Response.json({ count });
    }

    // Get a Durable Object by name (creates a deterministic ID)
    const id = env.COUNTER.idFromName("global-counter");

    // Or generate a random unique ID
    // const id = env.COUNTER.newUniqueId();

    // Or reconstruct from a stored hex string
    // const id = env.COUNTER.idFromString("abc123...");

    // Get a stub (reference) to the object
    const stub = env.COUNTER.get(id);

    // Forward the request to the Durable Object
    return stub.fetch(request);
  },
};

export class Counter extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    // The last segment: "/increment" when addressed directly, "/gateway/increment" when the
    // worker forwards the request it received.
    const action = url.pathname.slice(url.pathname.lastIndexOf("/"));
    if (action === "/increment") {
      return Response.json({ count: await this.add(1) });
    }
    if (action === "/get") {
      return Response.json({ count: await this.count() });
    }
    return new Response("Not Found", { status: 404 });
  }

  async add(by) {
    if (!Number.isInteger(by)) throw new TypeError(`add() takes an integer, not ${JSON.stringify(by)}`);
    const count = ((await this.ctx.storage.get("count")) || 0) + by;
    await this.ctx.storage.put("count", count);
    return count;
  }

  async count() {
    return (await this.ctx.storage.get("count")) || 0;
  }
}
