"""Workers: stateless components of the ``worker`` world that receive the requests of the
routes they own (``[worker]`` in the config) and reach objects through their bindings.

A worker module defines a top-level ``fetch``::

    from wdo import Response

    async def fetch(request, env):
        stub = env.COUNTER.get_by_name(request.query.get("name", "default"))
        return Response.json({"count": stub.increment()})

or a class with a ``fetch(self, request)`` method (``build.py --worker m.py --class
Name``), made for each request as ``Name(env)``; ``WorkerEntrypoint`` keeps ``env`` as
``self.env``. A worker has no storage, and the host gives each request a new instance, so
nothing is kept between requests.
"""

import sys
import traceback
from typing import Any, Callable, Optional

from wit_world import exports
from wit_world.imports import wdo_object_types as wit_types

from .env import Env
from .events import request_from_wit, response_to_wit, run
from .http import HttpError, Request, Response


class WorkerEntrypoint:
    """Base class of a worker written as a class: ``self.env`` holds the bindings and vars."""

    def __init__(self, env: Env):
        self.env = env

    def fetch(self, request: Request) -> Response:
        return Response.json({"error": "not found"}, status=404)


def entry_from_module(module: Any, class_name: Optional[str] = None) -> Any:
    """The worker's entry in ``module``: the class ``class_name``, or its top-level
    ``fetch``; a clear error if there is none."""
    name = getattr(module, "__name__", "the module")
    if class_name is not None:
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type):
            raise TypeError(f"worker: {name} has no class {class_name}")
        if not callable(getattr(cls, "fetch", None)):
            raise TypeError(f"worker: {name}.{class_name} has no fetch(self, request) method")
        return cls
    fetch = getattr(module, "fetch", None)
    if not callable(fetch):
        raise TypeError(
            f"worker: {name} has no top-level fetch(request, env) function (for a class with a "
            "fetch method, build with --class NAME)"
        )
    return fetch


def handler_for(entry: Any, env: Optional[Env] = None) -> type:
    """The ``FetchHandler`` export class for a worker's ``fetch`` function or class (``env``:
    the host's bindings and vars unless given)."""
    holder = {}
    name = f"{getattr(entry, '__module__', None) or '?'}.{getattr(entry, '__qualname__', entry)}"
    label = f"{name}.fetch()" if isinstance(entry, type) else f"{name}()"

    def target() -> Callable[[Request], Any]:
        if "env" not in holder:
            holder["env"] = Env.from_host() if env is None else env
        if isinstance(entry, type):
            # As Cloudflare's WorkerEntrypoint: one object per request.
            return entry(holder["env"]).fetch
        return lambda request: entry(request, holder["env"])

    class FetchHandler(exports.FetchHandler):
        def fetch(self, request: wit_types.Request) -> wit_types.Response:
            try:
                try:
                    response = run(target()(request_from_wit(request)), label)
                except HttpError as error:
                    response = error.to_response()
                return response_to_wit(response, label)
            except BaseException:
                # Trap: the host answers 500 and the next request gets a fresh instance.
                print(f"Uncaught exception in the worker's {label}:", file=sys.stderr)
                traceback.print_exc()
                raise

    return FetchHandler
