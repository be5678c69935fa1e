// The project's `main`: every class of Cloudflare's Durable Objects documentation, each in its
// own file as published, and a small router of ours in front of them, since the reference's
// Worker (./worker.ts, unchanged) only forwards to the Counter "global-counter":
//
// - `/chat/<room>/<path>` → CHAT_ROOM's object <room> at `/<path>` (e.g. `/websocket?name=N`)
// - `/hib/<name>/<path>` → HIBERNATABLE_CHAT's object <name> (any path: a WebSocket)
// - `/queue/<name>/<path>` → DELAYED_QUEUE's object <name> (`POST /schedule`)
// - `/limit/<name>/<path>` → RATE_LIMITER's object <name> (`POST` with `{key, limit, windowMs}`)
// - `/game/<name>/<path>` → GAME_ROOM's object <name> (its `fetch` is a fragment: an error)
// - `/counter/<path>` → the reference Worker with `/<path>`; anything else → the reference
//   Worker as it is (so `/increment` and `/get` reach the Counter, as on Cloudflare).
import worker from "./worker";
import type { Env } from "./env";

export { Counter } from "./counter";
export { GameRoom } from "./game-room";
export { ChatRoom } from "./chat-room";
export { HibernatableChat } from "./hibernatable-chat";
export { DelayedQueue } from "./delayed-queue";
export { RateLimiter } from "./rate-limiter";

interface ProjectEnv extends Env {
  GAME_ROOM: DurableObjectNamespace;
  HIBERNATABLE_CHAT: DurableObjectNamespace;
  DELAYED_QUEUE: DurableObjectNamespace;
  RATE_LIMITER: DurableObjectNamespace;
}

const ROUTES: Record<string, keyof ProjectEnv> = {
  chat: "CHAT_ROOM",
  hib: "HIBERNATABLE_CHAT",
  queue: "DELAYED_QUEUE",
  limit: "RATE_LIMITER",
  game: "GAME_ROOM",
};

// `request` with the path `path` (and its query string).
async function withPath(request: Request, path: string): Promise<Request> {
  const url = new URL(request.url);
  url.pathname = path;
  const body = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
  return new Request(url.toString(), { method: request.method, headers: request.headers, body });
}

export default {
  async fetch(request: Request, env: ProjectEnv): Promise<Response> {
    const url = new URL(request.url);
    const [, first, name, ...rest] = url.pathname.split("/");
    if (first === "counter") {
      return worker.fetch(await withPath(request, "/" + [name, ...rest].join("/")), env);
    }
    const binding = ROUTES[first];
    if (binding === undefined) return worker.fetch(request, env);
    if (!name) return Response.json({ error: `/${first}/<name>/<path>: an object name is missing` }, { status: 404 });
    const stub = (env[binding] as DurableObjectNamespace).getByName(name);
    return stub.fetch(await withPath(request, "/" + rest.join("/")));
  },
};
