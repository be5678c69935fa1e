// The Counter and RateLimiter of Cloudflare's Durable Objects documentation, as published
// (TypeScript), with one change: the import line. tests/integration/sdk.rs checks that they
// run on wdo.
import { DurableObject } from "@wdo/sdk";

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
