// The Counter of Cloudflare's Durable Objects documentation, as published (TypeScript).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

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
