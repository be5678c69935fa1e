// Tic-tac-toe over WebSockets: a `Lobby` object creates game rooms and lists them, each
// `GameRoom` object is one game between two players. The GameRoom's constructor is the one of
// Cloudflare's Durable Objects documentation, as published: `blockConcurrencyWhile` loads
// `gameState` and the `player:` entries before any event runs, so a room that was evicted
// mid-game (its instance dropped) goes on with the board it stored. The room never reads its
// state from storage anywhere else.
//
// Served (wdo.toml) as namespaces `game-lobby` (class Lobby, binding ROOMS → game-room) and
// `game-room` (class GameRoom); tests/integration/game.rs plays it.
//
// Lobby, `/game-lobby/<lobby>/...`:
// - `POST /rooms` with `{"name": "..."}` (1-40 characters) → 201 `{"id", "name", "url"}`:
//   a room with `env.ROOMS.newUniqueId()`, set up by RPC (`await room.setup(name)`); the
//   lobby keeps its id in its storage (`room:<id>`). `url` is where players connect.
// - `GET /rooms` → `{"rooms": [summary, ...]}`, each room asked by RPC (`await
//   room.summary()`), oldest first.
// - `GET /rooms/<id>` → that room's summary; an id this lobby did not create → 404.
// A summary: `{"id", "name", "status", "players": [names], "turn", "winner", "moves"}`.
//
// GameRoom, `/game-room/@<id>/...` (the id from the lobby):
// - `GET /ws?name=NAME` with a WebSocket upgrade → 101: the first name plays X, the second O
//   (X starts). A name already seated takes its seat back (a reconnect). A third name →
//   409 `{"error": "the room is full ..."}`; no name → 400; no upgrade → 426.
// - `GET /state` → the room's full state: the summary plus `board` (9 cells, "" or "X"/"O").
// - A room the lobby did not set up (e.g. `/game-room/anything/ws`) answers 404 saying so.
// - RPC: `setup(name)` (once; again → an error), `summary()`.
// Messages, JSON text frames. Client → room: `{"type": "move", "cell": 0-8}` (cells row by
// row). Room → clients: on joining, `{"type": "joined", "mark": "X"|"O", "name"}` to the
// joiner; after every join and move, `{"type": "state", ...the full state}` to everyone;
// a refused message gets `{"type": "error", "error": "..."}` to its sender only (not JSON,
// unknown type, cell not an integer 0-8, cell taken, not your turn, waiting for a second
// player, game over). `status` is "waiting", "playing", "won" (`winner` is the winner's
// name) or "draw".
//
// Sockets use the Hibernation API (`state.acceptWebSocket`, `webSocketMessage`): they belong
// to the object, not to its instance, so a room evicted mid-game keeps its players connected
// and the next move wakes a new instance, which the constructor fills from storage. With the
// standard API the sockets' listeners would live in the instance and the room could not be
// evicted while a game is open.
import { DurableObject } from "cloudflare:workers";

export interface Env {
  ROOMS: DurableObjectNamespace;
}

type Mark = "X" | "O";

interface Player {
  name: string;
  mark: Mark;
}

interface GameState {
  name: string;
  board: ("" | Mark)[];
  turn: Mark;
  status: "waiting" | "playing" | "won" | "draw";
  winner: string | null;
  moves: number;
}

const LINES = [
  [0, 1, 2], [3, 4, 5], [6, 7, 8],
  [0, 3, 6], [1, 4, 7], [2, 5, 8],
  [0, 4, 8], [2, 4, 6],
];

function errorResponse(status: number, error: string): Response {
  return Response.json({ error }, { status });
}

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
    const url = new URL(request.url);
    if (this.gameState === null) {
      return errorResponse(404, "no such game room: rooms are created by a lobby (POST /game-lobby/<lobby>/rooms)");
    }
    if (url.pathname === "/state") {
      return Response.json(this.fullState());
    }
    if (url.pathname === "/ws") {
      if (request.headers.get("Upgrade") !== "websocket") {
        return errorResponse(426, "expected a WebSocket upgrade");
      }
      const name = (url.searchParams.get("name") ?? "").trim();
      if (name === "" || name.length > 40) {
        return errorResponse(400, "a player needs a name of 1-40 characters: /ws?name=NAME");
      }
      const player = await this.seat(name);
      if (player === null) {
        const names = [...this.players.values()].map((p) => p.name).join(" and ");
        return errorResponse(409, `the room is full: ${names} are playing`);
      }
      const pair = new WebSocketPair();
      const [client, server] = Object.values(pair);
      this.state.acceptWebSocket(server, [player.mark]);
      server.send(JSON.stringify({ type: "joined", mark: player.mark, name: player.name }));
      this.broadcastState();
      return new Response(null, { status: 101, webSocket: client });
    }
    return errorResponse(404, `no route ${url.pathname}: GET /ws?name=NAME (WebSocket) or GET /state`);
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    const mark = this.state.getTags(ws)[0] as Mark;
    const refused = await this.play(mark, message);
    if (refused !== null) {
      ws.send(JSON.stringify({ type: "error", error: refused }));
    } else {
      this.broadcastState();
    }
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string) {
    ws.close(code, reason);
  }

  // RPC from the lobby.
  async setup(name: string) {
    if (this.gameState !== null) throw new Error(`this room is already set up (as ${JSON.stringify(this.gameState.name)})`);
    if (typeof name !== "string" || name.trim() === "" || name.length > 40) {
      throw new TypeError("a room needs a name of 1-40 characters");
    }
    this.gameState = { name: name.trim(), board: Array(9).fill(""), turn: "X", status: "waiting", winner: null, moves: 0 };
    await this.state.storage.put("gameState", this.gameState);
    return this.summary();
  }

  async summary() {
    if (this.gameState === null) return null;
    return this.summaryOf(this.gameState);
  }

  private fullState() {
    return { type: "state", ...this.summaryOf(this.gameState!), board: this.gameState!.board };
  }

  private summaryOf(game: GameState) {
    const { name, status, turn, winner, moves } = game;
    const players = [...this.players.values()].sort((a, b) => (a.mark === "X" ? -1 : 1) - (b.mark === "X" ? -1 : 1)).map((p) => p.name);
    return { id: this.state.id.toString(), name, status, players, turn: status === "playing" ? turn : null, winner, moves };
  }

  private broadcastState() {
    const text = JSON.stringify(this.fullState());
    for (const socket of this.state.getWebSockets()) {
      try { socket.send(text); } catch { /* closing: it misses this state */ }
    }
  }

  // The player `name` sits as: their seat again, the next free one, or null if full.
  private async seat(name: string): Promise<Player | null> {
    for (const player of this.players.values()) {
      if (player.name === name) return player;
    }
    const mark: Mark | null = !this.players.has("X") ? "X" : !this.players.has("O") ? "O" : null;
    if (mark === null) return null;
    const player = { name, mark };
    this.players.set(mark, player);
    await this.state.storage.put(`player:${mark}`, player);
    if (this.players.size === 2 && this.gameState!.status === "waiting") {
      this.gameState!.status = "playing";
      await this.state.storage.put("gameState", this.gameState);
    }
    return player;
  }

  // Plays `mark`'s message; the reason it is refused, or null.
  private async play(mark: Mark, message: string | ArrayBuffer): Promise<string | null> {
    if (typeof message !== "string") return "messages are JSON text, not binary";
    let move: any;
    try {
      move = JSON.parse(message);
    } catch {
      return "a message is JSON, e.g. {\"type\":\"move\",\"cell\":4}";
    }
    if (move === null || typeof move !== "object" || move.type !== "move") {
      return "unknown message: the only one is {\"type\":\"move\",\"cell\":0-8}";
    }
    const cell = move.cell;
    if (!Number.isInteger(cell) || cell < 0 || cell > 8) {
      return `cell must be an integer 0-8 (row by row), not ${JSON.stringify(cell)}`;
    }
    const game = this.gameState!;
    if (game.status === "waiting") return "waiting for a second player";
    if (game.status !== "playing") {
      return `the game is over: ${game.status === "won" ? `${game.winner} won` : "a draw"}`;
    }
    if (game.turn !== mark) return `not your turn: it is ${game.turn}'s turn`;
    if (game.board[cell] !== "") return `cell ${cell} is taken by ${game.board[cell]}`;
    game.board[cell] = mark;
    game.moves += 1;
    if (LINES.some((line) => line.every((i) => game.board[i] === mark))) {
      game.status = "won";
      game.winner = this.players.get(mark)!.name;
    } else if (game.moves === 9) {
      game.status = "draw";
    } else {
      game.turn = mark === "X" ? "O" : "X";
    }
    await this.state.storage.put("gameState", game);
    return null;
  }
}

export class Lobby extends DurableObject<Env> {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/rooms" && request.method === "POST") {
      let body: any;
      try {
        body = await request.json();
      } catch {
        return errorResponse(400, "the body is JSON: {\"name\": \"...\"}");
      }
      const name = body?.name;
      if (typeof name !== "string" || name.trim() === "" || name.length > 40) {
        return errorResponse(400, "a room needs a \"name\" of 1-40 characters");
      }
      const id = this.env.ROOMS.newUniqueId();
      const summary = await this.env.ROOMS.get(id).setup(name);
      const seq = ((await this.ctx.storage.get<number>("rooms-created")) ?? 0) + 1;
      await this.ctx.storage.put({ "rooms-created": seq, [`room:${id.toString()}`]: { name: summary.name, seq } });
      return Response.json({ id: id.toString(), name: summary.name, url: `/game-room/@${id}/ws` }, { status: 201 });
    }
    if (url.pathname === "/rooms" && request.method === "GET") {
      const rooms = await this.ctx.storage.list<{ seq: number }>({ prefix: "room:" });
      const entries = [...rooms].sort((a, b) => a[1].seq - b[1].seq);
      const summaries = [];
      for (const [key] of entries) {
        summaries.push(await this.room(key.slice("room:".length)).summary());
      }
      return Response.json({ rooms: summaries });
    }
    const match = /^\/rooms\/([^/]+)$/.exec(url.pathname);
    if (match && request.method === "GET") {
      const id = match[1];
      if ((await this.ctx.storage.get(`room:${id}`)) === undefined) {
        return errorResponse(404, `no room ${JSON.stringify(id)} in this lobby`);
      }
      return Response.json(await this.room(id).summary());
    }
    return errorResponse(404, `no route ${request.method} ${url.pathname}: POST /rooms, GET /rooms, GET /rooms/<id>`);
  }

  private room(id: string) {
    return this.env.ROOMS.get(this.env.ROOMS.idFromString(id));
  }
}
