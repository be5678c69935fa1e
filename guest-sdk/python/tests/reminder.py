"""A small object for the test hooks' own tests (test_testing.py): it remembers a note and
when to remind, and counts the events its current instance has seen.

- ``POST /remind`` with ``{"text": T, "inMs": N}`` → ``{"scheduled": ms}``: stores T, sets the alarm.
- ``GET /seen`` → ``{"byThisInstance": N}``: events seen since this instance was created.
"""

import time

from wdo import DurableObject, HttpError, Response


class Reminder(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.seen = 0

    def fetch(self, request):
        self.seen += 1
        storage = self.ctx.storage
        if request.path == "/remind":
            body = request.json()
            at = int(time.time() * 1000) + body["inMs"]
            storage.put("text", body["text"])
            storage.set_alarm(at)
            return Response.json({"scheduled": at})
        if request.path == "/seen":
            return Response.json({"byThisInstance": self.seen})
        raise HttpError(404, "not found")

    def alarm(self, info):
        self.ctx.storage.put("reminded", {"text": self.ctx.storage.get("text")})
