"""Exercises the Python SDK's API through HTTP; tests/integration/sdk.rs drives it (and the
same contract in JavaScript, ../sdk-js)."""

import time

from wdo import DurableObject, HttpError, Response, StorageError


class SdkProbe(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.loaded = ctx.storage.get("loaded", 0)

    async def fetch(self, request):
        storage = self.ctx.storage
        if request.path == "/get":
            keys = request.query["keys"].split(",")
            found = storage.get_many(keys)
            return Response.json({key: found.get(key) for key in keys})
        if request.path == "/many":
            storage.put_many({"m:b": {"two": 2}, "m:a": 1})
            refused = None
            try:
                storage.put_many({"m:c": 3, "k" * 2049: 4})
            except StorageError as e:
                refused = e.code
            found = storage.get_many(["m:b", "m:c", "m:a", "missing"])
            return Response.json(
                {"isMap": isinstance(found, dict), "entries": [[k, v] for k, v in found.items()], "refused": refused}
            )
        if request.path == "/txn":
            fail = request.json()["fail"]
            try:
                with storage.transaction():
                    storage.put("a", 1)
                    storage.put("b", {"two": [2]})
                    if fail:
                        raise RuntimeError("boom")
                return Response.json({"committed": True})
            except RuntimeError as error:
                return Response.json({"committed": False, "error": str(error)})
        if request.path == "/rollback":
            with storage.transaction() as txn:
                storage.put("r", 1)
                txn.rollback()
            return Response.json({"result": "kept"})
        if request.path == "/trap":
            storage.put("t", 1)
            raise RuntimeError("deliberate failure")
        if request.path == "/alarm":
            storage.set_alarm(time.time() * 1000 + 50)
            return Response.json({"set": storage.get_alarm() is not None})
        if request.path == "/list":
            storage.put_many({"p:1": 1, "p:2": 2, "q:1": 3})
            last = storage.list(prefix="p:", reverse=True, limit=1)
            try:
                storage.put("k" * 2049, 1)
                long_key = None
            except StorageError as e:
                long_key = e.code
            return Response.json(
                {"keys": list(storage.list(prefix="p:")), "last": list(last.items()), "longKey": long_key}
            )
        if request.path == "/echo":
            body = request.json()
            return Response.json(
                {
                    "method": request.method,
                    "path": request.path,
                    "x": request.query.get("x"),
                    "header": request.headers.get("X-Test"),
                    "body": body,
                    "idLength": len(self.ctx.id),
                    "name": self.ctx.name,
                    "loaded": self.loaded,
                },
                status=201,
                headers={"x-answer": "42"},
            )
        if request.path == "/sql":
            sql = storage.sql
            sql.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT, r REAL)")
            inserted = sql.exec("INSERT INTO t(v, r) VALUES (?, ?), (?, ?)", "a", 1.5, "b", None)
            cursor = sql.exec("SELECT id, v, r FROM t WHERE v >= ? ORDER BY id", "a")
            rows = list(cursor)
            try:
                sql.exec("ATTACH DATABASE 'other.db' AS other")
                error = None
            except StorageError as e:
                # The host's code, through the SDK's StorageError.
                error = e.code
            return Response.json(
                {
                    "written": inserted.rows_written,
                    "columns": cursor.column_names,
                    "rows": rows,
                    "one": sql.exec("SELECT count(*) AS n FROM t").one(),
                    "raw": sql.exec("SELECT v FROM t ORDER BY id").raw(),
                    "error": error,
                    "sized": sql.database_size > 0,
                }
            )
        if request.path == "/ws":
            if request.headers.get("upgrade") != "websocket":
                raise HttpError(426, "Expected WebSocket")
            ws = self.ctx.accept_websocket(request, ["probe"])
            ws.serialize_attachment({"name": request.query.get("name")})
            self.ctx.set_websocket_auto_response("marco", "polo")
            ws.send("hello")
            return Response(status=101)
        if request.path == "/closed":
            return Response.json({"closed": storage.get("closed")})
        raise HttpError(404, "not found")

    def websocket_message(self, ws, message):
        if isinstance(message, bytes):
            ws.send(message[::-1])
            return
        if message == "bye":
            ws.close(4000, "bye")
            return
        ws.send_json(
            {
                "echo": message,
                "attachment": ws.deserialize_attachment(),
                "tags": self.ctx.get_tags(ws),
                "sockets": len(self.ctx.get_websockets("probe")),
                "same": self.ctx.get_websockets("probe")[0] is ws,
            }
        )

    def websocket_close(self, ws, code, reason, was_clean):
        self.ctx.storage.put("closed", {"code": code, "name": ws.deserialize_attachment()["name"]})
        ws.close(code, "closing")

    # Fails its first attempt (after a write, which must be rolled back), succeeds on the retry.
    def alarm(self, info):
        self.ctx.storage.put(f"attempt:{info.retry_count}", True)
        if info.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.ctx.storage.put(
            "alarmed",
            {"retryCount": info.retry_count, "isRetry": info.is_retry, "scheduled": info.scheduled_time > 0},
        )
