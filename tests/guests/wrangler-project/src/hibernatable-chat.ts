// The HibernatableChat (the Hibernation API) of Cloudflare's Durable Objects documentation, as published (TypeScript; only
// its text's indentation was lost in the copy).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

export class HibernatableChat implements DurableObject {
constructor(private state: DurableObjectState, private env: Env) {}
async fetch(request: Request): Promise<Response> {
const pair = new WebSocketPair();
const [client, server] = Object.values(pair);
// Use acceptWebSocket instead of ws.accept()
this.state.acceptWebSocket(server, ["user-tag"]);
return new Response(null, { status: 101, webSocket: client });
}
// Called when a message arrives (object wakes from hibernation if needed)
async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
const sockets = this.state.getWebSockets();
for (const socket of sockets) {
socket.send(typeof message === "string" ? message : new Uint8Array(message));
}
}
async webSocketClose(ws: WebSocket, code: number, reason: string) {
ws.close(code, reason);
}
}
