// The Env of Cloudflare's Durable Objects documentation, as published.
export interface Env {
  COUNTER: DurableObjectNamespace;
  CHAT_ROOM: DurableObjectNamespace;
}
