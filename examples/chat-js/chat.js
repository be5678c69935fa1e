// chat-js: the `chat` example (EXAMPLES.md) written the Cloudflare way — the WebSocket
// Hibernation API: `ctx.acceptWebSocket`, `webSocketMessage` / `webSocketClose` handlers,
// the sender's name in the socket's attachment, and a `ping` → `pong` auto-response that
// the host answers without waking the room. One object per room.
//
// The only line that differs from a Cloudflare Durable Object is the import.

import { DurableObject } from "@wdo/sdk";

const HISTORY = 50;
const KEEP = 1000;

// Same keys and JSON as the Rust `chat`, so either can read a room's storage.
const messageKey = (seq) => `msg:${String(seq).padStart(16, "0")}`;

export class Chat extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Each wake-up from hibernation constructs a new instance: count them.
    ctx.blockConcurrencyWhile(async () => {
      const wakeups = (await ctx.storage.get("wakeups")) || 0;
      await ctx.storage.put("wakeups", wakeups + 1);
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/websocket") return this.join(request, url);
    if (request.method === "GET" && url.pathname === "/stats") return this.stats();
    return new Response("Not Found", { status: 404 });
  }

  async join(request, url) {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected WebSocket", { status: 426 });
    }
    const name = url.searchParams.get("name") || "anonymous";
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["room"]);
    server.serializeAttachment({ name });
    server.send(JSON.stringify({ type: "history", messages: await this.history() }));
    this.broadcast({ type: "join", name }, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  async history() {
    const list = await this.ctx.storage.list({ prefix: "msg:", reverse: true, limit: HISTORY });
    return [...list.values()].reverse();
  }

  async stats() {
    const count = (await this.ctx.storage.get("count")) || 0;
    return Response.json({
      connections: this.ctx.getWebSockets().length,
      messages: Math.min(count, KEEP),
      wakeups: (await this.ctx.storage.get("wakeups")) || 0,
    });
  }

  async webSocketMessage(ws, message) {
    if (typeof message !== "string") {
      ws.send(JSON.stringify({ type: "error", error: "binary messages are not supported" }));
      return;
    }
    let incoming;
    try {
      incoming = JSON.parse(message);
    } catch {
      incoming = null;
    }
    if (!incoming || incoming.type !== "message" || typeof incoming.text !== "string") {
      ws.send(JSON.stringify({ type: "error", error: 'expected {"type":"message","text":...}' }));
      return;
    }
    const { name } = ws.deserializeAttachment() || { name: "anonymous" };
    const stored = { name, text: incoming.text, timestamp: Date.now() };
    const seq = ((await this.ctx.storage.get("count")) || 0) + 1;
    await this.ctx.storage.put({ [messageKey(seq)]: stored, count: seq });
    if (seq > KEEP) await this.ctx.storage.delete(messageKey(seq - KEEP));
    this.broadcast({ type: "message", ...stored });
  }

  async webSocketClose(ws, code, reason, wasClean) {
    const { name } = ws.deserializeAttachment() || { name: "anonymous" };
    this.broadcast({ type: "leave", name }, ws);
    ws.close(code, "Durable Object is closing WebSocket");
  }

  /// Sends `message` to every socket in the room but `except`.
  broadcast(message, except) {
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch (error) {
        console.warn("send failed:", error.message);
      }
    }
  }
}
