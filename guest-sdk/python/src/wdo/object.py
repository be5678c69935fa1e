"""The object model: ``DurableObject``, its ``ctx``, and the component's exports.

One instance serves one object id. It is created at the start of its first event, then
every event calls a method on it. ``build.py`` generates the entry module that calls
``fetch_handler_for(YourClass)``; new kinds of events (alarms, WebSocket messages) will be
new exports made the same way, calling methods the class may define.
"""

import sys
import traceback
from typing import Any, Optional

from wit_world import exports
from wit_world.imports import state as wit_state
from wit_world.imports import types as wit_types

from .http import HttpError, Request, Response
from .storage import Storage


class DurableObjectState:
    """``self.ctx``: who the object is, and its storage."""

    def __init__(self):
        #: The object's id: 64 lower-case hex characters.
        self.id: str = wit_state.id()
        #: The name the object was addressed by, if it was addressed by name.
        self.name: Optional[str] = wit_state.name()
        #: The namespace (object class) the object belongs to.
        self.namespace: str = wit_state.namespace()
        self.storage = Storage()


class DurableObject:
    """Base class of objects: keeps ``ctx`` and ``env`` (an empty dict for now).

    Subclasses define ``fetch(self, request) -> Response`` (or ``async def fetch``).
    ``__init__`` runs at the start of the object's first event, inside that event's
    transaction: the place to load or migrate state.
    """

    def __init__(self, ctx: DurableObjectState, env: dict):
        self.ctx = ctx
        self.env = env

    def fetch(self, request: Request) -> Response:
        return Response.json({"error": "not found"}, status=404)


def _run(result: Any) -> Any:
    """The value of a handler's result, running it to completion if it is a coroutine.

    Storage calls are synchronous, so an ``async def`` handler never really waits; one that
    awaits something that does (an asyncio sleep) cannot run here and fails clearly.
    """
    if not hasattr(result, "send") or not hasattr(result, "throw"):
        return result
    try:
        result.send(None)
    except StopIteration as done:
        return done.value
    result.close()
    raise RuntimeError("fetch() awaited something that never completes inside a wdo object (no event loop runs here)")


def _to_wit(response: Any) -> wit_types.Response:
    if not isinstance(response, Response):
        raise TypeError(f"fetch() must return a wdo.Response, not {type(response).__name__}")
    return wit_types.Response(response.status, response.headers.items(), response.body)


def _from_wit(request: wit_types.Request) -> Request:
    host = next((value for name, value in request.headers if name == "host"), "localhost")
    return Request(request.method, f"http://{host}{request.url}", request.headers, request.body)


def fetch_handler_for(cls: type, env: Optional[dict] = None) -> type:
    """The ``fetch-handler`` export class for objects of ``cls``."""
    holder = {}

    def instance() -> Any:
        if "object" not in holder:
            holder["object"] = cls(DurableObjectState(), {} if env is None else env)
        return holder["object"]

    class FetchHandler(exports.FetchHandler):
        def fetch(self, request: wit_types.Request) -> wit_types.Response:
            try:
                try:
                    response = _run(instance().fetch(_from_wit(request)))
                except HttpError as error:
                    response = error.to_response()
                return _to_wit(response)
            except BaseException:
                # Trap: the host rolls the event back, answers 500 and starts afresh.
                print(f"Uncaught exception in {cls.__name__}.fetch():", file=sys.stderr)
                traceback.print_exc()
                raise

    return FetchHandler
