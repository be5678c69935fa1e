"""``wdo.http.fetch`` on wasi:http's outgoing handler: the request is sent whole, the
response read whole (at most ``MAX_RESPONSE_BODY`` bytes), each step a blocking host call.
The host sends only to the hosts in ``allowed-outbound-hosts``; any other request fails with
``HTTP-request-denied`` before a connection is made."""

from typing import List, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler
from wit_world.imports import streams
from wit_world.imports import wasi_http_types as http

from .http import FetchError, Response

MAX_RESPONSE_BODY = 32 << 20
"""The most bytes of a response body ``fetch`` reads; a longer one raises ``FetchError``."""

_CHUNK = 4096
# Headers the transport sets itself (wasi:http refuses them from a guest): dropped.
_TRANSPORT = {"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "http2-settings"}

_METHODS = {
    "GET": http.Method_Get,
    "HEAD": http.Method_Head,
    "POST": http.Method_Post,
    "PUT": http.Method_Put,
    "DELETE": http.Method_Delete,
    "CONNECT": http.Method_Connect,
    "OPTIONS": http.Method_Options,
    "TRACE": http.Method_Trace,
    "PATCH": http.Method_Patch,
}

_MESSAGES = {
    "DnsTimeout": "resolving its host name timed out",
    "DnsError": "its host name did not resolve",
    "DestinationNotFound": "its host name did not resolve",
    "DestinationUnavailable": "its host is unavailable",
    "DestinationIpProhibited": "its address is prohibited",
    "DestinationIpUnroutable": "its address is unroutable",
    "ConnectionRefused": "the connection was refused (nothing listens there?)",
    "ConnectionTerminated": "the connection closed before the response",
    "ConnectionTimeout": "the connection timed out",
    "ConnectionReadTimeout": "no response in time (read timeout)",
    "ConnectionWriteTimeout": "sending the request timed out",
    "ConnectionLimitReached": "too many outbound connections are open",
    "TlsProtocolError": "TLS failed (protocol error)",
    "TlsCertificateError": "TLS failed (the server's certificate was not accepted)",
    "TlsAlertReceived": "TLS failed (the server sent an alert)",
    "HttpRequestMethodInvalid": "the method is not valid",
    "HttpRequestUriInvalid": "the URL is not valid",
    "HttpRequestBodySize": "the request body does not match its content-length",
    "HttpResponseIncomplete": "the response was incomplete",
    "HttpResponseBodySize": "the response body is too large",
    "HttpResponseTimeout": "no response in time",
    "HttpProtocolError": "the server broke the HTTP protocol",
}


def _describe(url: str, code) -> FetchError:
    """A FetchError for a wasi:http error code (an ``ErrorCode_*`` instance)."""
    name = type(code).__name__.split("_", 1)[-1]
    if name == "HttpRequestDenied":
        host = urlsplit(url).netloc or url
        return FetchError(url, f"the host refused it: {host} is not in allowed-outbound-hosts", refused=True)
    if name == "InternalError" and getattr(code, "value", None):
        return FetchError(url, f"the host failed: {code.value}")
    return FetchError(url, _MESSAGES.get(name, f"failed ({name})"))


def _drop(resource) -> None:
    if resource is not None:
        resource.__exit__(None, None, None)


def _settle(pending):
    """Waits for the response: ``Ok(incoming-response)``, ``Err(error-code)`` or None."""
    ready = pending.subscribe()
    ready.block()
    _drop(ready)
    outcome = pending.get()
    if outcome is None or not isinstance(outcome, Ok):
        return None
    return outcome.value


def _header_pairs(headers) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    return [(str(name).lower(), str(value)) for name, value in items]


def send(url: str, method: str, headers, body) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(url, "the URL must begin with http:// or https://")
    if not parts.netloc:
        raise FetchError(url, "the URL has no host")
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif body is not None:
        body = bytes(body)
    pairs = _header_pairs(headers)
    entries = [(name, value.encode("utf-8")) for name, value in pairs if name not in _TRANSPORT]
    if body and not any(name == "content-length" for name, _ in pairs):
        entries.append(("content-length", str(len(body)).encode()))
    try:
        fields = http.Fields.from_list(entries)
    except Err as error:
        raise FetchError(url, f"a request header is not valid or not allowed ({type(error.value).__name__})") from None
    request = http.OutgoingRequest(fields)
    upper = method.upper()
    method_value = _METHODS[upper]() if upper in _METHODS else http.Method_Other(method)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    scheme = http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http()
    for what, call, value in (
        ("method", request.set_method, method_value),
        ("scheme", request.set_scheme, scheme),
        ("host", request.set_authority, parts.netloc),
        ("path", request.set_path_with_query, path),
    ):
        try:
            call(value)
        except Err:
            raise FetchError(url, f"the {what} is not valid") from None
    outgoing_body = request.body()
    try:
        pending = outgoing_handler.handle(request, None)
    except Err as error:
        _drop(outgoing_body)
        raise _describe(url, error.value) from None
    try:
        if body:
            _write_body(url, outgoing_body, body, pending)
        try:
            http.OutgoingBody.finish(outgoing_body, None)
        except Err as error:
            raise _describe(url, error.value) from None
        return _receive(url, pending)
    finally:
        _drop(pending)


def _write_body(url: str, outgoing_body, body: bytes, pending) -> None:
    stream = outgoing_body.write()
    try:
        for at in range(0, len(body), _CHUNK):
            stream.blocking_write_and_flush(body[at : at + _CHUNK])
    except Err as error:
        # The host dropped the body because the request failed (refused, say): its reason
        # says more than the stream's.
        _drop(stream)
        outcome = _settle(pending)
        if isinstance(outcome, Err):
            raise _describe(url, outcome.value) from None
        raise FetchError(url, f"sending the body failed: {_stream_error(error.value)}") from None
    _drop(stream)


def _receive(url: str, pending) -> Response:
    outcome = _settle(pending)
    if outcome is None:
        raise FetchError(url, "the response was lost")
    if isinstance(outcome, Err):
        raise _describe(url, outcome.value)
    response = outcome.value
    incoming: Optional[object] = None
    try:
        status = response.status()
        fields = response.headers()
        pairs = [(name.lower(), value.decode("utf-8", errors="replace")) for name, value in fields.entries()]
        _drop(fields)
        for name, value in pairs:
            if name == "content-length" and value.isdigit() and int(value) > MAX_RESPONSE_BODY:
                raise FetchError(url, f"the response body ({value} bytes) is over fetch's limit of {MAX_RESPONSE_BODY} bytes")
        incoming = response.consume()
        body = _read_body(url, incoming)
    finally:
        _drop(incoming)
        _drop(response)
    answer = Response(body, status=status, headers=pairs)
    answer.url = url
    return answer


def _read_body(url: str, incoming) -> bytes:
    stream = incoming.stream()
    chunks = []
    total = 0
    try:
        while True:
            try:
                chunk = stream.blocking_read(64 << 10)
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    break
                raise FetchError(url, f"reading the response body failed: {_stream_error(error.value)}") from None
            total += len(chunk)
            if total > MAX_RESPONSE_BODY:
                raise FetchError(url, f"the response body is over fetch's limit of {MAX_RESPONSE_BODY} bytes")
            chunks.append(chunk)
    finally:
        _drop(stream)
    return b"".join(chunks)


def _stream_error(error) -> str:
    if isinstance(error, streams.StreamError_Closed):
        return "the connection closed"
    try:
        return error.value.to_debug_string()
    except Exception:
        return type(error).__name__
