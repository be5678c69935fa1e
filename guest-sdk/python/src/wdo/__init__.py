"""wdo's Python SDK: Durable Objects as Python classes, built into WebAssembly components.

An object is a class with a ``fetch(self, request)`` method (plain or ``async``)::

    from wdo import DurableObject, Response

    class Counter(DurableObject):
        def fetch(self, request):
            count = self.ctx.storage.get("count", 0) + 1
            self.ctx.storage.put("count", count)
            return Response.json({"count": count})

        def increment(self, by=1):          # RPC: env.COUNTER.get_by_name("a").increment(5)
            count = self.ctx.storage.get("count", 0) + by
            self.ctx.storage.put("count", count)
            return count

``guest-sdk/python/build.py`` turns the module into a component of the ``wdo:object``
world (componentize-py), or, with ``--worker``, a module with a top-level ``fetch(request,
env)`` into one of the ``worker`` world. One object instance serves one object id and
handles one event at a time; every event runs in a transaction the host commits before the
response leaves. An exception that escapes ``fetch`` traps: the host rolls the event's
writes back and answers 500. ``raise HttpError(status, message)`` is an ordinary answer
instead.

The object world's names (``DurableObject``, storage, WebSockets, SQL) are imported on
first use, so a worker, whose world has none of those interfaces, can ``from wdo import
Response`` too. (componentize-py keeps only the modules imported while it builds: the entry
module ``build.py`` generates imports every module of its world, ``wdo.object`` or
``wdo.worker``, so none is first imported inside a request.)
"""

from .errors import RpcError, StorageError
from .http import Headers, HttpError, Request, Response

_LAZY = {
    "AlarmInfo": "object",
    "DurableObject": "object",
    "DurableObjectState": "object",
    "Cursor": "sql",
    "Sql": "sql",
    "Storage": "storage",
    "Transaction": "storage",
    "WebSocket": "websocket",
    "Env": "env",
    "DurableObjectId": "env",
    "DurableObjectNamespace": "env",
    "DurableObjectStub": "stub",
    "WorkerEntrypoint": "worker",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wdo' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AlarmInfo",
    "Cursor",
    "DurableObject",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStub",
    "Env",
    "Headers",
    "HttpError",
    "Request",
    "Response",
    "RpcError",
    "Sql",
    "Storage",
    "StorageError",
    "Transaction",
    "WebSocket",
    "WorkerEntrypoint",
]
