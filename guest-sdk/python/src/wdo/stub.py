"""Stubs: handles on other objects, from ``env.BINDING.get(id)`` or ``get_by_name(name)``.

``stub.fetch(...)`` sends an HTTP request to the object's ``fetch``; ``stub.call(method,
*args)``, or ``stub.method(*args)``, calls one of its methods (RPC) with JSON arguments and
returns its JSON result. Either is an event of the callee (its own turn, committed before
the answer returns) and waits for it: calls are synchronous, like storage calls. A failure
raises ``RpcError`` with the host's code.
"""

import json
from typing import Any, Callable, Mapping, Optional, Union
from urllib.parse import urlsplit

from wit_world.imports import namespaces as wit
from wit_world.imports import wdo_object_types as wit_types

from .errors import RpcError, _rpc
from .http import HeaderPairs, Headers, Request, Response


def _path(url: str) -> str:
    """The path (and query) inside the object: ``/x?y`` as given, or from an absolute URL."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path
    raise ValueError(f"stub.fetch() takes a path inside the object beginning with / (or an http URL), not {url!r}")


def _body(body: Union[str, bytes, bytearray, memoryview, None], headers: Headers) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        if "content-type" not in headers:
            headers.set("content-type", "text/plain; charset=utf-8")
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"stub.fetch() body is str or bytes, not {type(body).__name__} (json.dumps it first)")


def wit_request(
    request: Union[Request, str],
    method: Optional[str] = None,
    headers: Union[Headers, Mapping[str, str], HeaderPairs, None] = None,
    body: Union[str, bytes, None] = None,
) -> wit_types.Request:
    """The WIT request a ``stub.fetch`` sends: a ``Request`` (forwarded, with any of its
    parts replaced by the keywords) or a path."""
    if isinstance(request, Request):
        url = _path(request.url)
        method = request.method if method is None else method
        headers = request.headers if headers is None else headers
        body = request.body if body is None else body
    elif isinstance(request, str):
        url = _path(request)
    else:
        raise TypeError(f"stub.fetch() takes a wdo.Request or a path, not {type(request).__name__}")
    headers = Headers(headers)
    data = _body(body, headers)
    return wit_types.Request((method or "GET").upper(), url, headers.items(), data)


def encode_arguments(method: str, args: tuple) -> str:
    """The JSON array of ``args``; ``TypeError`` naming the argument that is not JSON."""
    for index, value in enumerate(args):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{method}(): argument {index + 1} cannot be sent as JSON: {error}") from None
    return json.dumps(list(args), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode_result(method: str, result: str) -> Any:
    try:
        return json.loads(result)
    except json.JSONDecodeError as error:
        raise RpcError("failed", f"the result of {method}() is not JSON ({error}): {result[:200]!r}") from None


class DurableObjectStub:
    """A handle on one object: ``id``, ``name``, ``fetch``, ``call`` and its methods as
    attributes (a method named ``id``, ``name``, ``fetch`` or ``call`` is reached with
    ``call``)."""

    def __init__(self, binding: str, id):
        #: The object's ``DurableObjectId``.
        self.id = id
        #: The name the object is addressed by (``get_by_name``, ``id_from_name``), else None.
        self.name: Optional[str] = id.name
        self._stub = _rpc(wit.Stub.get, binding, str(id), id.name)

    def fetch(
        self,
        request: Union[Request, str],
        method: Optional[str] = None,
        headers: Union[Headers, Mapping[str, str], HeaderPairs, None] = None,
        body: Union[str, bytes, None] = None,
    ) -> Response:
        """Sends a request to the object's ``fetch`` and returns its ``Response``. ``request``
        is a path inside the object (``"/increment?by=2"``, or an http URL whose path is
        used) or a ``wdo.Request`` to forward; ``method`` (default GET), ``headers`` and
        ``body`` (``str`` or ``bytes``) set or replace its parts. A status of 4xx or 5xx
        the object answered is a ``Response``; ``RpcError`` if the object failed or could
        not be reached."""
        answer = _rpc(self._stub.fetch, wit_request(request, method, headers, body))
        return Response(bytes(answer.body), answer.status, list(answer.headers))

    def call(self, method: str, *args: Any) -> Any:
        """Calls the object's method ``method`` (the name exactly as given) with ``args``
        (JSON values) and returns its result (a JSON value). ``RpcError`` with ``code``
        ``failed`` and the callee's message if the method raised."""
        if not isinstance(method, str):
            raise TypeError(f"call() takes the method's name as a str, not {type(method).__name__}")
        payload = encode_arguments(method, args)
        return decode_result(method, _rpc(self._stub.call, method, payload))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Only reached for names that are not attributes of the stub: a remote method.
        if name.startswith("_"):
            raise AttributeError(f"{name!r}: methods whose name begins with _ are not callable through a stub")

        def method(*args: Any) -> Any:
            return self.call(name, *args)

        method.__name__ = name
        return method

    def __repr__(self) -> str:
        return f"DurableObjectStub({self.id!r})"
