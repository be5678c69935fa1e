"""What objects and workers share at the boundary: running a handler (plain or ``async``)
and converting requests and responses to and from their WIT records."""

from typing import Any

from wit_world.imports import wdo_object_types as wit_types

from .http import Request, Response


def run(result: Any, handler: str = "the handler") -> Any:
    """The value of a handler's result, running it to completion if it is a coroutine.

    Host calls (storage, stubs) are synchronous, so an ``async def`` handler never really
    waits; one that awaits something that does (an asyncio sleep) cannot run here and fails
    clearly.
    """
    if not hasattr(result, "send") or not hasattr(result, "throw"):
        return result
    try:
        result.send(None)
    except StopIteration as done:
        return done.value
    result.close()
    raise RuntimeError(f"{handler} awaited something that never completes inside wdo (no event loop runs here)")


def response_to_wit(response: Any, handler: str = "fetch()") -> wit_types.Response:
    if not isinstance(response, Response):
        raise TypeError(f"{handler} must return a wdo.Response, not {type(response).__name__}")
    return wit_types.Response(response.status, response.headers.items(), response.body)


def request_from_wit(request: wit_types.Request) -> Request:
    host = next((value for name, value in request.headers if name == "host"), "localhost")
    return Request(request.method, f"http://{host}{request.url}", request.headers, request.body)
