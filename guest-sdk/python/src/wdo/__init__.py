"""wdo's Python SDK: Durable Objects as Python classes, built into WebAssembly components.

An object is a class with a ``fetch(self, request)`` method (plain or ``async``)::

    from wdo import DurableObject, Response

    class Counter(DurableObject):
        def fetch(self, request):
            count = self.ctx.storage.get("count", 0) + 1
            self.ctx.storage.put("count", count)
            return Response.json({"count": count})

``guest-sdk/python/build.py`` turns the module into a component of the ``wdo:object``
world (componentize-py). One instance serves one object id and handles one event at a
time; every event runs in a transaction the host commits before the response leaves. An
exception that escapes ``fetch`` traps: the host rolls the event's writes back and answers
500. ``raise HttpError(status, message)`` is an ordinary answer instead.
"""

from .errors import StorageError
from .http import Headers, HttpError, Request, Response
from .object import AlarmInfo, DurableObject, DurableObjectState
from .sql import Cursor, Sql
from .storage import Storage, Transaction
from .websocket import WebSocket

__all__ = [
    "AlarmInfo",
    "DurableObject",
    "DurableObjectState",
    "Headers",
    "HttpError",
    "Request",
    "Response",
    "Storage",
    "StorageError",
    "Transaction",
    "WebSocket",
]
