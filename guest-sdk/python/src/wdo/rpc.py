"""RPC into an object: which of its methods a caller may reach, and one call's JSON in and
out. ``object.py`` exports it as the ``rpc-handler``; everything here is plain Python.

A public method is one defined on the object's class (not an instance attribute) whose name
does not begin with ``_`` and is not an event handler (``fetch``, ``alarm``, the WebSocket
ones): those are the host's to call. The name is called exactly as given, so a caller's
``getTop`` reaches ``getTop``, never ``get_top`` (the error then says which exists).
"""

import inspect
import json
import re
import sys
import traceback
from typing import Any, Callable

from .events import run

#: Handlers of the host's events: never callable through a stub.
HANDLERS = frozenset({"fetch", "alarm", "websocket_message", "websocket_close", "websocket_error"})


class CallError(Exception):
    """A call that failed: it reaches no public method, its arguments or result are not
    JSON, or the method raised. The caller gets the message (code ``failed``)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def call(obj: Any, method: str, payload: str) -> str:
    """Calls ``obj``'s public method ``method`` with the JSON array ``payload`` of arguments
    (awaiting it if it is ``async``) and returns its result as JSON; ``CallError`` with the
    caller's message otherwise. An exception the method raised is printed to the host's log
    with its traceback."""
    bound = public_method(obj, method)
    args = decode_arguments(method, payload)
    try:
        result = run(bound(*args), f"{method}()")
    except Exception as error:
        print(f"Uncaught exception in {type(obj).__name__}.{method}() (RPC):", file=sys.stderr)
        traceback.print_exc()
        raise CallError(describe(error)) from None
    return encode_result(method, result)


def public_method(obj: Any, name: str) -> Callable[..., Any]:
    """The bound method ``name`` of ``obj`` if a caller may reach it, else ``CallError``
    saying why."""
    cls = type(obj)
    where = f"{cls.__name__}.{name}"
    if name.startswith("_"):
        raise CallError(f"{where} is not callable through RPC: names beginning with _ are private")
    if name in HANDLERS:
        raise CallError(f"{where} is not callable through RPC: it is the handler of the host's {name} events")
    try:
        static = inspect.getattr_static(cls, name)
    except AttributeError:
        similar = [n for n in (_snake(name), _camel(name)) if n != name and n not in HANDLERS and _is_method(cls, n)]
        hint = f" (did you mean {similar[0]!r}?)" if similar else ""
        raise CallError(f"{cls.__name__} has no method {name!r}{hint}") from None
    if not _is_method(cls, name):
        raise CallError(f"{where} is not callable through RPC: it is a {type(static).__name__}, not a method")
    return getattr(obj, name)


def _is_method(cls: type, name: str) -> bool:
    try:
        static = inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    if isinstance(static, (staticmethod, classmethod)):
        return True
    return inspect.isfunction(static)


def decode_arguments(name: str, payload: str) -> list:
    try:
        args = json.loads(payload)
    except json.JSONDecodeError as error:
        raise CallError(f"the arguments of {name}() are not JSON: {error}") from None
    if not isinstance(args, list):
        raise CallError(f"the arguments of {name}() must be a JSON array, not {type(args).__name__}")
    return args


def encode_result(name: str, result: Any) -> str:
    try:
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CallError(f"{name}() returned a value that cannot be sent as JSON: {error}") from None


def describe(error: BaseException) -> str:
    """The message a caller gets for an exception the method raised."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
