"""The object model: ``DurableObject``, its ``ctx``, and the component's exports.

One instance serves one object id. It is created at the start of its first event, then
every event calls a method on it. ``build.py`` generates the entry module that calls
``handlers_for(YourClass)``: one export class per kind of event (HTTP, alarm, WebSocket,
RPC), each calling the method of that event (or, for RPC, the public method named by the
caller).
"""

import sys
import traceback
from typing import Any, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.alarm_handler import AlarmInfo as AlarmHandlerInfo
from wit_world.imports import state as wit_state
from wit_world.imports import wdo_object_types as wit_types

from .env import Env
from .events import request_from_wit, response_to_wit, run
from .http import HttpError, Request, Response
from . import rpc
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
    """Base class of objects: keeps ``ctx`` and ``env`` (``wdo.env.Env``: the bindings and
    vars).

    Subclasses define ``fetch(self, request) -> Response`` (or ``async def fetch``), and any
    public methods (names not beginning with ``_``) that other objects and workers call
    through a stub. ``__init__`` runs at the start of the object's first event, inside that
    event's transaction: the place to load or migrate state.
    """

    def __init__(self, ctx: DurableObjectState, env: Env):
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


def handlers_for(cls: type, env: Optional[Env] = None) -> Tuple[type, type, type, type]:
    """The export classes (``FetchHandler``, ``AlarmHandler``, ``WebsocketHandler``,
    ``RpcHandler``) for objects of ``cls``, sharing one instance."""
    holder = {}

    def instance() -> Any:
        if "object" not in holder:
            holder["object"] = cls(DurableObjectState(), Env.from_host() if env is None else env)
        return holder["object"]

    class FetchHandler(exports.FetchHandler):
        def fetch(self, request: wit_types.Request) -> wit_types.Response:
            try:
                try:
                    response = run(instance().fetch(request_from_wit(request)), "fetch()")
                except HttpError as error:
                    response = error.to_response()
                return response_to_wit(response)
            except BaseException:
                # Trap: the host rolls the event back, answers 500 and starts afresh.
                print(f"Uncaught exception in {cls.__name__}.fetch():", file=sys.stderr)
                traceback.print_exc()
                raise

    class AlarmHandler(exports.AlarmHandler):
        def alarm(self, info: AlarmHandlerInfo) -> None:
            object_ = instance()
            try:
                run(object_.alarm(AlarmInfo(info.retry_count, info.is_retry, info.scheduled_ms)), "alarm()")
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
            run(method(*args), f"{name}()")
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

    class RpcHandler(exports.RpcHandler):
        def call(self, method: str, payload: str) -> str:
            object_ = instance()
            try:
                return rpc.call(object_, method, payload)
            except rpc.CallError as error:
                # The call's error result: the host rolls its writes back, the caller gets
                # the message (code "failed"), and the next event gets a new instance.
                raise Err(str(error)) from None

    return FetchHandler, AlarmHandler, WebsocketHandler, RpcHandler
