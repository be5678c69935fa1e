// The ChatRoom of Cloudflare's Durable Objects documentation (the standard WebSocket API:
// `new WebSocketPair()`, `ws.accept()`, `addEventListener`), as published. Only its text's
// indentation was lost in the copy. Served as namespace `chat-seed` (wdo.toml);
// tests/integration/standard_websockets.rs runs it.
import { DurableObject } from "cloudflare:workers";

export interface Env {}

export class ChatRoom implements DurableObject {
private sessions: Map<WebSocket, { name: string }> = new Map();
constructor(private state: DurableObjectState, private env: Env) {}
async fetch(request: Request): Promise<Response> {
const url = new URL(request.url);
if (url.pathname === "/websocket") {
if (request.headers.get("Upgrade") !== "websocket") {
return new Response("Expected WebSocket", { status: 426 });
}
const pair = new WebSocketPair();
const [client, server] = Object.values(pair);
const name = url.searchParams.get("name") || "Anonymous";
await this.handleWebSocket(server, name);
return new Response(null, { status: 101, webSocket: client });
}
return new Response("Not Found", { status: 404 });
}
private async handleWebSocket(ws: WebSocket, name: string) {
// Accept the connection
ws.accept();
this.sessions.set(ws, { name });
// Broadcast join
this.broadcast(JSON.stringify({ type: "join", name }), ws);
// Send message history
const history = await this.state.storage.get<string[]>("messages") || [];
ws.send(JSON.stringify({ type: "history", messages: history.slice(-50) }));
ws.addEventListener("message", async (event) => {
const data = JSON.parse(event.data as string);
if (data.type === "message") {
const msg = { name, text: data.text, timestamp: Date.now() };
const serialized = JSON.stringify({ type: "message", ...msg });
// Persist to storage
const history = await this.state.storage.get<string[]>("messages") || [];
history.push(serialized);
if (history.length > 1000) history.splice(0, history.length - 1000);
await this.state.storage.put("messages", history);
// Broadcast to all connected clients
this.broadcast(serialized);
}
});
ws.addEventListener("close", () => {
this.sessions.delete(ws);
this.broadcast(JSON.stringify({ type: "leave", name }));
});
}
private broadcast(message: string, exclude?: WebSocket) {
for (const [ws] of this.sessions) {
if (ws !== exclude) {
try { ws.send(message); } catch { this.sessions.delete(ws); }
}
}
}
}
