"""The HTTP request an object receives and the response it answers with."""

import json
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

HeaderPairs = List[Tuple[str, str]]


class Headers:
    """HTTP headers: names compared case-insensitively, a name may repeat."""

    def __init__(self, init: Union[None, "Headers", Mapping[str, str], Iterable[Tuple[str, str]]] = None):
        self._pairs: HeaderPairs = []
        if init is None:
            return
        items = init._pairs if isinstance(init, Headers) else init.items() if isinstance(init, Mapping) else init
        for name, value in items:
            self.append(name, value)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """All values of ``name`` joined with ", ", or ``default``."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> List[str]:
        key = name.lower()
        return [value for header, value in self._pairs if header == key]

    def set(self, name: str, value: str) -> None:
        self.delete(name)
        self.append(name, value)

    def append(self, name: str, value: str) -> None:
        self._pairs.append((str(name).lower(), str(value)))

    def delete(self, name: str) -> None:
        key = name.lower()
        self._pairs = [(header, value) for header, value in self._pairs if header != key]

    def items(self) -> HeaderPairs:
        """In order, repeated headers apart, names in lower case."""
        return list(self._pairs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(header for header, _ in self._pairs))

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class HttpError(Exception):
    """Raise it from ``fetch`` to answer ``status`` with ``{"error": message}``.

    It is an ordinary answer, not a rollback: writes made before it are committed. Use a
    storage transaction to make a group of writes all-or-nothing.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def to_response(self) -> "Response":
        return Response.json({"error": self.message}, status=self.status)


class Request:
    """A request as the object sees it.

    ``url`` is absolute (``http://<host>/<path inside the object>?<query>``): the
    ``/<namespace>/<name>`` prefix of the public URL is removed, as the object is addressed
    by it.
    """

    def __init__(self, method: str, url: str, headers: Union[Headers, HeaderPairs, None] = None, body: bytes = b""):
        self.method = method.upper()
        self.url = url
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = bytes(body)
        parts = urlsplit(url)
        self.path = parts.path or "/"
        self.query_string = parts.query

    @property
    def query(self) -> Dict[str, str]:
        """The query parameters, first value of each (``+`` and ``%XX`` decoded)."""
        params: Dict[str, str] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            params.setdefault(name, value)
        return params

    def text(self) -> str:
        """The body as UTF-8; ``HttpError(400)`` if it is not."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise HttpError(400, f"body is not valid UTF-8: {error}") from None

    def json(self) -> Any:
        """The body decoded from JSON; ``HttpError(400, "invalid JSON body: ...")`` if malformed."""
        try:
            return json.loads(self.text())
        except json.JSONDecodeError as error:
            raise HttpError(400, f"invalid JSON body: {error}") from None

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url})"


class _ClassOrInstance:
    """A method that is a constructor on the class and a reader on an instance, like
    JavaScript's ``Response.json(data)`` and ``response.json()``."""

    def __init__(self, on_class, on_instance):
        self.on_class = on_class
        self.on_instance = on_instance

    def __get__(self, instance, owner):
        if instance is None:
            return self.on_class.__get__(owner, owner)
        return self.on_instance.__get__(instance, owner)


class Response:
    """A response: ``Response(body, status=200, headers=None)``.

    A ``str`` body is sent as UTF-8 ``text/plain``; ``bytes`` as given. ``Response.json(data)``
    makes a JSON answer; on a response (one a stub returned, say) ``response.json()`` and
    ``response.text()`` read its body.
    """

    def __init__(
        self,
        body: Union[str, bytes, None] = None,
        status: int = 200,
        headers: Union[Headers, Mapping[str, str], HeaderPairs, None] = None,
    ):
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        if isinstance(body, str):
            if "content-type" not in self.headers:
                self.headers.set("content-type", "text/plain; charset=utf-8")
            body = body.encode("utf-8")
        self.body = bytes(body or b"")

    def _make_json(
        cls,
        data: Any,
        status: int = 200,
        headers: Union[Headers, Mapping[str, str], HeaderPairs, None] = None,
    ) -> "Response":
        response = cls(json.dumps(data, separators=(",", ":")).encode("utf-8"), status, headers)
        if "content-type" not in response.headers:
            response.headers.set("content-type", "application/json")
        return response

    def _read_json(self) -> Any:
        """The body decoded from JSON (``ValueError`` if it is not JSON)."""
        return json.loads(self.text())

    json = _ClassOrInstance(_make_json, _read_json)

    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


class FetchError(Exception):
    """An outbound request (``fetch``) that got no response: ``url``, ``message`` (why), and
    ``refused``: the host refused to send it, as its host is not in the config's
    ``allowed-outbound-hosts``. A response with any status, 404 or 500 included, is not an
    error."""

    def __init__(self, url: str, message: str, refused: bool = False):
        super().__init__(f"fetch {url}: {message}")
        self.url = url
        self.message = message
        self.refused = refused


def fetch(
    url: str,
    method: str = "GET",
    headers: Union[Headers, Mapping[str, str], HeaderPairs, None] = None,
    body: Union[str, bytes, None] = None,
) -> Response:
    """Sends an HTTP request and returns the whole ``Response`` (``status``, ``headers``,
    ``body`` bytes, ``.text()``, ``.json()``), or raises ``FetchError``. Synchronous: the
    object waits for the answer. Only hosts in ``allowed-outbound-hosts`` are reached;
    redirects are returned, not followed; a response body over 32 MiB is an error."""
    from .outbound import send

    return send(url, method, headers, body)
