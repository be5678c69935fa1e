// The RateLimiter of Cloudflare's Durable Objects documentation, as published (TypeScript; only
// its text's indentation was lost in the copy).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

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
