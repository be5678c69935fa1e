// The Counter and RateLimiter of Cloudflare's Durable Objects documentation and its Worker
// ("Calling a Durable Object from a Worker"), as published, TypeScript, unchanged: even the
// import line is Cloudflare's.
import { DurableObject } from "cloudflare:workers";

export interface Env {
  COUNTER: DurableObjectNamespace;
  CHAT_ROOM: DurableObjectNamespace;
}

export class Counter implements DurableObject {
  private state: DurableObjectState;
  private env: Env;

  constructor(state: DurableObjectState, env: Env) {
    this.state = state;
    this.env = env;
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);

    if (url.pathname === "/increment") {
      let count = (await this.state.storage.get<number>("count")) || 0;
      count++;
      await this.state.storage.put("count", count);
      return Response.json({ count });
    }

    if (url.pathname === "/get") {
      const count = (await this.state.storage.get<number>("count")) || 0;
      return Response.json({ count });
    }

    return new Response("Not Found", { status: 404 });
  }
}

export class RateLimiter implements DurableObject {
  constructor(private state: DurableObjectState, private env: Env) {}

  async fetch(request: Request): Promise<Response> {
    const { key, limit, windowMs } = await request.json<{
      key: string; limit: number; windowMs: number;
    }>();

    const now = Date.now();
    const windowStart = now - windowMs;

    // Get existing timestamps
    let timestamps = (await this.state.storage.get<number[]>(`rl:${key}`)) || [];

    // Remove expired entries
    timestamps = timestamps.filter((t) => t > windowStart);

    if (timestamps.length >= limit) {
      const retryAfter = Math.ceil((timestamps[0] + windowMs - now) / 1000);
      return Response.json(
        { allowed: false, remaining: 0, retryAfter },
        { status: 429, headers: { "Retry-After": retryAfter.toString() } }
      );
    }

    // Record this request
    timestamps.push(now);
    await this.state.storage.put(`rl:${key}`, timestamps);

    return Response.json({
      allowed: true,
      remaining: limit - timestamps.length,
    });
  }
}

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
