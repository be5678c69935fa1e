// Exercises the JavaScript SDK's API through HTTP; tests/integration/sdk.rs drives it (and
// the same contract in Python, ../sdk-py).
import { DurableObject } from "@wdo/sdk";

export class SdkProbe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Runs before the first event: the loaded value is there when fetch runs.
    ctx.blockConcurrencyWhile(async () => {
      this.loaded = (await ctx.storage.get("loaded")) ?? 0;
    });
  }

  async fetch(request) {
    const url = new URL(request.url);
    const storage = this.ctx.storage;
    switch (url.pathname) {
      case "/get": {
        const keys = url.searchParams.get("keys").split(",");
        const found = await storage.get(keys);
        return Response.json(Object.fromEntries(keys.map((k) => [k, found.has(k) ? found.get(k) : null])));
      }
      case "/many": {
        // The reference's `put(new Map([...]))`: every entry, atomically; `get([...])`: a Map.
        await storage.put(new Map([["m:b", { two: 2 }], ["m:a", 1]]));
        let refused = null;
        try {
          await storage.put(new Map([["m:c", 3], ["k".repeat(2049), 4]]));
        } catch (e) {
          refused = e.name === "StorageError" ? e.code : `not a StorageError: ${e}`;
        }
        const found = await storage.get(["m:b", "m:c", "m:a", "missing"]);
        return Response.json({ isMap: found instanceof Map, entries: [...found.entries()], refused });
      }
      case "/txn": {
        const { fail } = await request.json();
        try {
          await storage.transaction(async (txn) => {
            await txn.put("a", 1);
            await storage.put("b", { two: [2] });
            if (fail) throw new Error("boom");
          });
          return Response.json({ committed: true });
        } catch (error) {
          return Response.json({ committed: false, error: error.message });
        }
      }
      case "/rollback": {
        const result = await storage.transaction(async (txn) => {
          await txn.put("r", 1);
          txn.rollback();
          return "kept";
        });
        return Response.json({ result });
      }
      case "/trap":
        await storage.put("t", 1);
        throw new Error("deliberate failure");
      case "/alarm": {
        await storage.setAlarm(Date.now() + 50);
        return Response.json({ set: (await storage.getAlarm()) !== null });
      }
      case "/list": {
        await storage.put({ "p:1": 1, "p:2": 2, "q:1": 3 });
        const all = await storage.list({ prefix: "p:" });
        const last = await storage.list({ prefix: "p:", reverse: true, limit: 1 });
        let longKey = null;
        try {
          await storage.put("k".repeat(2049), 1);
        } catch (e) {
          longKey = e.name === "StorageError" ? e.code : `not a StorageError: ${e}`;
        }
        return Response.json({ keys: [...all.keys()], last: [...last.entries()], longKey });
      }
      case "/echo": {
        let body;
        try {
          body = await request.json();
        } catch (error) {
          return Response.json({ error: `invalid JSON body: ${error.message}` }, { status: 400 });
        }
        return Response.json(
          {
            method: request.method,
            path: url.pathname,
            x: url.searchParams.get("x"),
            header: request.headers.get("X-Test"),
            body,
            idLength: this.ctx.id.toString().length,
            name: this.ctx.id.name,
            loaded: this.loaded,
          },
          { status: 201, headers: { "x-answer": "42" } },
        );
      }
      case "/sql": {
        const sql = storage.sql;
        sql.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT, r REAL)");
        const inserted = sql.exec("INSERT INTO t(v, r) VALUES (?, ?), (?, ?)", "a", 1.5, "b", null);
        const cursor = sql.exec("SELECT id, v, r FROM t WHERE v >= ? ORDER BY id", "a");
        const rows = [...cursor];
        let error = null;
        try {
          sql.exec("ATTACH DATABASE 'other.db' AS other");
        } catch (e) {
          // The host's code, through the SDK's StorageError.
          error = e.name === "StorageError" ? e.code : `not a StorageError: ${e}`;
        }
        return Response.json({
          written: inserted.rowsWritten,
          columns: cursor.columnNames,
          rows,
          one: sql.exec("SELECT count(*) AS n FROM t").one(),
          raw: sql.exec("SELECT v FROM t ORDER BY id").raw().toArray(),
          error,
          sized: sql.databaseSize > 0,
        });
      }
      case "/ws": {
        if (request.headers.get("upgrade") !== "websocket") return new Response("Expected WebSocket", { status: 426 });
        const ws = this.ctx.acceptWebSocket(request, ["probe"]);
        ws.serializeAttachment({ name: url.searchParams.get("name") });
        this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("marco", "polo"));
        ws.send("hello");
        return new Response(null, { status: 101 });
      }
      case "/closed":
        return Response.json({ closed: (await storage.get("closed")) ?? null });
      default:
        return new Response("Not Found", { status: 404 });
    }
  }

  async webSocketMessage(ws, message) {
    if (typeof message !== "string") {
      ws.send(new Uint8Array(message).reverse());
      return;
    }
    if (message === "bye") {
      ws.close(4000, "bye");
      return;
    }
    ws.send(
      JSON.stringify({
        echo: message,
        attachment: ws.deserializeAttachment(),
        tags: this.ctx.getTags(ws),
        sockets: this.ctx.getWebSockets("probe").length,
        same: this.ctx.getWebSockets("probe")[0] === ws,
      }),
    );
  }

  async webSocketClose(ws, code, reason, wasClean) {
    await this.ctx.storage.put("closed", { code, name: ws.deserializeAttachment().name });
    ws.close(code, "closing");
  }

  // Fails its first attempt (after a write, which must be rolled back), succeeds on the retry.
  async alarm(info) {
    await this.ctx.storage.put(`attempt:${info.retryCount}`, true);
    if (info.retryCount === 0) throw new Error("first attempt fails");
    await this.ctx.storage.put("alarmed", {
      retryCount: info.retryCount,
      isRetry: info.isRetry,
      scheduled: info.scheduledTime > 0,
    });
  }
}
