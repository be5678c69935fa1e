"""Outbound ``wdo.http.fetch`` from a Python object, for tests/integration/outbound_py.rs.

``POST /fetch`` with a JSON plan ``{url, method?, headers?, body?}`` fetches it and answers
``{status, headers, text, json}`` (``json``: the body decoded, or null), or 502 with
``{error, refused, type}`` if ``fetch`` raised ``FetchError``."""

from wdo import DurableObject, Response
from wdo.http import FetchError, fetch


class OutboundProbe(DurableObject):
    def fetch(self, request):
        plan = request.json()
        # A write in the same event, so that fetch is known to work inside a storage turn.
        self.ctx.storage.put("fetches", (self.ctx.storage.get("fetches") or 0) + 1)
        try:
            response = fetch(
                plan["url"],
                method=plan.get("method", "GET"),
                headers=plan.get("headers"),
                body=plan.get("body"),
            )
        except FetchError as error:
            return Response.json(
                {"error": str(error), "refused": error.refused, "type": type(error).__name__},
                status=502,
            )
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        return Response.json(
            {
                "status": response.status,
                "headers": dict(response.headers.items()),
                "text": response.text(),
                "json": decoded,
            }
        )
