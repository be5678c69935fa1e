"""The object model: ``DurableObject``, its ``ctx``, and the component's exports.

One instance serves one object id. It is created at the start of its first event, then
every event calls a method on it. ``build.py`` generates the entry module that calls
``handlers_for(YourClass)``; new kinds of events (WebSocket messages) will be new export
classes made the same way, calling methods the class may define.
"""

import sys
import traceback
from typing import Any, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.alarm_handler import AlarmInfo as AlarmHandlerInfo
from wit_world.imports import state as wit_state
from wit_world.imports import types as wit_types

from .http import HttpError, Request, Response
from .storage import Storage
from .websocket import WebSocket, WebSocketMethods, _forget, _socket
from .websocket import _from_wit as _message_from_wit


class DurableObjectState(WebSocketMethods):
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

    def alarm(self, info: "AlarmInfo") -> None:
        """Runs when the object's alarm is due (``ctx.storage.set_alarm``). An exception
        rolls the event back and the alarm is retried with backoff (2 s, 4 s, ...; at most
        6 retries). The default does nothing."""

    def websocket_message(self, ws: WebSocket, message) -> None:
        """A message (``str`` or ``bytes``) on a socket accepted with
        ``ctx.accept_websocket``. An exception rolls the event back. Default: ignored."""

    def websocket_close(self, ws: WebSocket, code: int, reason: str, was_clean: bool) -> None:
        """The client closed (or vanished: 1006, ``was_clean`` False). The attachment and
        tags are still readable. Default: nothing."""

    def websocket_error(self, ws: WebSocket, error: str) -> None:
        """An error on the socket. Default: nothing."""


class AlarmInfo:
    """About the alarm being run."""

    def __init__(self, retry_count: int, is_retry: bool, scheduled_time: int):
        #: How many earlier attempts of this alarm failed.
        self.retry_count = retry_count
        self.is_retry = is_retry
        #: The time the alarm was set for, Unix milliseconds.
        self.scheduled_time = scheduled_time


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


def handlers_for(cls: type, env: Optional[dict] = None) -> Tuple[type, type, type]:
    """The export classes (``FetchHandler``, ``AlarmHandler``, ``WebsocketHandler``) for objects of ``cls``,
    sharing one instance."""
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

    class AlarmHandler(exports.AlarmHandler):
        def alarm(self, info: AlarmHandlerInfo) -> None:
            object_ = instance()
            try:
                _run(object_.alarm(AlarmInfo(info.retry_count, info.is_retry, info.scheduled_ms)))
            except Exception as error:
                # The alarm's error result: the host rolls back and retries; the instance stays.
                print(f"Uncaught exception in {cls.__name__}.alarm():", file=sys.stderr)
                traceback.print_exc()
                raise Err(f"{type(error).__name__}: {error}") from None

    def socket_event(name: str, *args) -> None:
        object_ = instance()
        method = getattr(object_, name, None)
        if method is None:
            return
        try:
            _run(method(*args))
        except Exception as error:
            # The event's error result: the host rolls its writes back; the instance stays.
            print(f"Uncaught exception in {cls.__name__}.{name}():", file=sys.stderr)
            traceback.print_exc()
            raise Err(f"{type(error).__name__}: {error}") from None

    class WebsocketHandler(exports.WebsocketHandler):
        def websocket_message(self, socket: int, message) -> None:
            socket_event("websocket_message", _socket(socket), _message_from_wit(message))

        def websocket_close(self, socket: int, code: int, reason: str, was_clean: bool) -> None:
            ws = _socket(socket)
            ws.closed = True
            try:
                socket_event("websocket_close", ws, code, reason, was_clean)
            finally:
                _forget(socket)

        def websocket_error(self, socket: int, error: str) -> None:
            socket_event("websocket_error", _socket(socket), error)

    return FetchHandler, AlarmHandler, WebsocketHandler
