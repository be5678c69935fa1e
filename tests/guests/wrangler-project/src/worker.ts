// The Worker of Cloudflare's "Calling a Durable Object from a Worker", as published
// (TypeScript): it forwards every request to the Counter named "global-counter".
import type { Env } from "./env";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);

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
