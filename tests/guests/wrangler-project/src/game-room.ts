// The GameRoom of Cloudflare's Durable Objects documentation, as published (TypeScript; only
// its text's indentation was lost in the copy). Its `fetch` is a fragment that returns nothing:
// wdo answers such a request 500 and logs that fetch() returned undefined, not a Response.
// `Player` and `GameState` are not defined by the reference: declared here for the types.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

interface Player { name: string }
interface GameState { [key: string]: unknown }

export class GameRoom implements DurableObject {
private players: Map<string, Player> = new Map();
private gameState: GameState | null = null;
constructor(private state: DurableObjectState, private env: Env) {
// Load state into memory during initialization
state.blockConcurrencyWhile(async () => {
this.gameState = await state.storage.get<GameState>("gameState") ?? null;
const playerEntries = await state.storage.list<Player>({ prefix: "player:" });
for (const [key, value] of playerEntries) {
const id = key.replace("player:", "");
this.players.set(id, value);
}
});
}
async fetch(request: Request): Promise<Response> {
// this.players and this.gameState are guaranteed to be loaded
// ...
}
}
