"""A Python object that calls others through its bindings (``LEADERBOARD`` for
leaderboard-py, ``CALLER`` for its own namespace) and its vars (``GREETING``);
tests/integration/py_apps.rs drives it.

HTTP (JSON bodies):

- ``POST /call`` ``{"binding", "name", "method", "args", "attribute": bool}`` → ``{"result"}``
  or ``{"error": {"code", "message", "remote", "retryable"}}``; ``attribute`` calls
  ``stub.<method>(*args)`` instead of ``stub.call(method, *args)``.
- ``POST /fetch`` ``{"binding", "name", "path", "method", "body", "forward": bool}`` →
  ``{"status", "contentType", "body"}``; ``forward`` sends a ``wdo.Request`` made of them.
- ``GET /env`` → the bindings (namespace of each), vars, and the errors of missing names.
- ``GET /ids`` → what the id functions answer.

RPC methods: ``relay(binding, name, method, *args)`` (calls on, answering ``{"result"}`` or
``{"error"}``), ``whoAmI()`` and ``who_am_i()``, ``get_count()``, ``async double(x)``,
``spin(seconds)``, ``put_then_fail(key)``, ``read(key)``, and the class constant ``LIMIT``.
"""

import time

from wdo import DurableObject, HttpError, Request, Response, RpcError


def _error(error):
    return {"code": error.code, "message": error.message, "remote": error.remote, "retryable": error.retryable}


class Caller(DurableObject):
    LIMIT = 3

    def fetch(self, request):
        if request.path == "/call":
            body = request.json()
            stub = self.env[body["binding"]].get_by_name(body["name"])
            try:
                if body.get("attribute"):
                    result = getattr(stub, body["method"])(*body.get("args", []))
                else:
                    result = stub.call(body["method"], *body.get("args", []))
            except RpcError as error:
                return Response.json({"error": _error(error)})
            return Response.json({"result": result})
        if request.path == "/fetch":
            body = request.json()
            stub = self.env[body["binding"]].get_by_name(body["name"])
            method, data = body.get("method", "GET"), body.get("body")
            if body.get("forward"):
                forwarded = Request(method, f"http://elsewhere{body['path']}", {"x-from": "caller"}, (data or "").encode())
                answer = stub.fetch(forwarded)
            else:
                answer = stub.fetch(body["path"], method=method, headers={"x-from": "caller"}, body=data)
            return Response.json(
                {"status": answer.status, "ok": answer.ok, "contentType": answer.headers.get("content-type"),
                 "body": answer.json() if answer.body else None}
            )  # fmt: skip
        if request.path == "/env":
            env = self.env
            missing = {}
            try:
                env.NOPE
            except AttributeError as error:
                missing["attribute"] = str(error)
            try:
                env["NOPE"]
            except KeyError as error:
                missing["item"] = str(error)
            return Response.json(
                {"bindings": {name: env[name].namespace for name in env if not isinstance(env[name], str)},
                 "vars": {name: env[name] for name in env if isinstance(env[name], str)},
                 "greetingAttribute": env.GREETING, "hasGreeting": "GREETING" in env, "missing": missing}
            )  # fmt: skip
        if request.path == "/ids":
            board = self.env.LEADERBOARD
            named = board.id_from_name("weekly")
            unique = board.new_unique_id()
            parsed = board.id_from_string(str(named).upper())
            errors = {}
            for label, bad in (("short", "abc"), ("foreign", str(self.env.CALLER.id_from_name("weekly")))):
                try:
                    board.id_from_string(bad)
                except ValueError as error:
                    errors[label] = str(error)
            try:
                board.get(str(named))
            except TypeError as error:
                errors["getStr"] = str(error)
            stub = board.get(unique)
            return Response.json(
                {"named": str(named), "name": named.name, "sameName": named == board.id_from_name("weekly"),
                 "unique": str(unique), "uniqueName": unique.name, "uniqueDiffers": unique != board.new_unique_id(),
                 "parsed": str(parsed), "parsedEqualsNamed": parsed == named, "parsedName": parsed.name,
                 "stubId": str(stub.id), "stubByName": board.get_by_name("weekly").name, "errors": errors}
            )  # fmt: skip
        raise HttpError(404, "not found")

    def relay(self, binding, name, method, *args):
        try:
            return {"result": self.env[binding].get_by_name(name).call(method, *args)}
        except RpcError as error:
            return {"error": _error(error)}

    def whoAmI(self):
        return {"camel": self.ctx.name}

    def who_am_i(self):
        return {"snake": self.ctx.name}

    def get_count(self):
        return self.ctx.storage.get("count", 0)

    async def double(self, x):
        return 2 * x

    def spin(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pass
        return "spun"

    def put_then_fail(self, key):
        self.ctx.storage.put(key, "written")
        raise ValueError(f"failing after writing {key}")

    def read(self, key):
        return self.ctx.storage.get(key)
