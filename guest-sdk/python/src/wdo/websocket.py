"""WebSockets with hibernation: the host, not the instance, holds every socket, so an object
with open sockets is evicted when idle and woken by the next message. A ``WebSocket`` here is
a handle (the host's socket id) that stays valid across that.

``self.ctx.accept_websocket(request, tags)`` during a ``fetch`` of an upgrade request
accepts it (the host answers 101 whatever ``fetch`` returns); the object's methods
``websocket_message(ws, message)``, ``websocket_close(ws, code, reason, was_clean)`` and
``websocket_error(ws, error)`` receive the socket's events.
"""

import json
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Union

from wit_world.imports import websocket as wit

from .errors import _host


def _to_wit(message: Union[str, bytes, bytearray, memoryview]):
    if isinstance(message, str):
        return wit.Message_Text(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return wit.Message_Binary(bytes(message))
    raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")


def _from_wit(message) -> Union[str, bytes]:
    return message.value


_handles: Dict[int, "WebSocket"] = {}


def _socket(socket_id: int) -> "WebSocket":
    ws = _handles.get(socket_id)
    if ws is None:
        ws = _handles[socket_id] = WebSocket(socket_id)
    return ws


def _forget(socket_id: int) -> None:
    ws = _handles.pop(socket_id, None)
    if ws is not None:
        ws.closed = True


class WebSocket:
    """An accepted socket. Equal handles for the same socket are the same object."""

    def __init__(self, socket_id: int):
        #: The host's id for the socket, stable across hibernation.
        self.id = socket_id
        self.closed = False

    def __repr__(self) -> str:
        return f"WebSocket({self.id})"

    def send(self, message: Union[str, bytes]) -> None:
        """Queues a text (``str``) or binary (``bytes``) message; sent once the event commits."""
        _host(wit.send, self.id, _to_wit(message))

    def send_json(self, value: Any) -> None:
        self.send(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes with ``code`` (1000 or 3000-4999); a no-op on a closed socket."""
        if self.closed:
            return
        _host(wit.close, self.id, code, reason)
        self.closed = True

    def serialize_attachment(self, value: Any) -> None:
        """Keeps ``value`` (as JSON, at most 16 KiB) with the socket until it closes."""
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        _host(wit.serialize_attachment, self.id, data)

    def deserialize_attachment(self) -> Any:
        """The last ``serialize_attachment`` value, or ``None``."""
        data = _host(wit.deserialize_attachment, self.id)
        return None if data is None else json.loads(data.decode("utf-8"))

    @property
    def tags(self) -> List[str]:
        return list(_host(wit.get_tags, self.id))

    def auto_response_timestamp(self) -> Optional[datetime]:
        """When the host last auto-responded on this socket, or ``None``."""
        ms = _host(wit.get_auto_response_timestamp, self.id)
        return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class WebSocketMethods:
    """The WebSocket methods of ``self.ctx`` (mixed into ``DurableObjectState``)."""

    def accept_websocket(self, request=None, tags: Iterable[str] = ()) -> WebSocket:
        """Accepts the upgrade request the current ``fetch`` handles (``request`` is for
        readability; the host knows which). At most 10 tags."""
        tags = list(tags)
        if any(not isinstance(tag, str) for tag in tags):
            raise TypeError("tags are str")
        return _socket(_host(wit.accept_websocket, tags))

    def get_websockets(self, tag: Optional[str] = None) -> List[WebSocket]:
        return [_socket(i) for i in wit.get_websockets(tag)]

    def get_tags(self, ws: WebSocket) -> List[str]:
        return ws.tags

    def set_websocket_auto_response(self, request: Optional[str] = None, response: Optional[str] = None) -> None:
        """A text message equal to ``request`` is answered ``response`` by the host without
        waking the object. Without arguments, removes it."""
        if request is None:
            _host(wit.set_auto_response, None)
        else:
            if not isinstance(request, str) or not isinstance(response, str):
                raise TypeError("set_websocket_auto_response(request, response) takes two str")
            _host(wit.set_auto_response, (request, response))

    def get_websocket_auto_response_timestamp(self, ws: WebSocket) -> Optional[datetime]:
        return ws.auto_response_timestamp()

    def broadcast(self, message: Union[str, bytes], tag: Optional[str] = None, except_: Optional[WebSocket] = None) -> int:
        """Sends to every open socket (with ``tag``) but ``except_``, in one host call."""
        return _host(wit.broadcast, _to_wit(message), tag, None if except_ is None else except_.id)

    def broadcast_json(self, value: Any, tag: Optional[str] = None, except_: Optional[WebSocket] = None) -> int:
        return self.broadcast(json.dumps(value, separators=(",", ":"), ensure_ascii=False), tag, except_)
