"""Outbound ``wdo.http.fetch`` from a Python worker, for tests/integration/outbound_py.rs:
the same JSON plan and answer as the object's (outbound.py)."""

from wdo import Response
from wdo.http import FetchError
from wdo.http import fetch as http_fetch


def fetch(request, env):
    plan = request.json()
    try:
        response = http_fetch(plan["url"], method=plan.get("method", "GET"), headers=plan.get("headers"), body=plan.get("body"))
    except FetchError as error:
        return Response.json({"error": str(error), "refused": error.refused, "type": type(error).__name__}, status=502)
    return Response.json({"status": response.status, "headers": dict(response.headers.items()), "text": response.text()})
