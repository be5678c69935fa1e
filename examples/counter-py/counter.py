"""`counter-py`: storage basics. HTTP contract: EXAMPLES.md, "counter".

- ``GET|POST /increment`` → ``{"count": N}``, N after incrementing by one.
- ``GET /get`` → ``{"count": N}`` (0 for a new object).
"""

from wdo import DurableObject, HttpError, Response


class Counter(DurableObject):
    def fetch(self, request):
        storage = self.ctx.storage
        if request.path == "/increment":
            if request.method not in ("GET", "POST"):
                raise HttpError(405, "use GET or POST")
            count = storage.get("count", 0) + 1
            storage.put("count", count)
        elif request.path == "/get":
            if request.method != "GET":
                raise HttpError(405, "use GET")
            count = storage.get("count", 0)
        else:
            raise HttpError(404, "not found")
        return Response.json({"count": count})
