"""`leaderboard-py`: RPC methods over SQL. One object is one board (``get_by_name("weekly")``);
it keeps each player's best score.

RPC (``env.LEADERBOARD.get_by_name(board)``, then the method on the stub; JSON values):

- ``submit(player, score)`` → ``{"player": P, "best": B, "improved": bool, "rank": R}``: keeps
  the higher of ``score`` and the player's best. ``player`` is a non-empty str of at most
  64 characters, ``score`` a 64-bit int; anything else raises ``ValueError`` (the caller's
  ``RpcError``, code ``failed``, and nothing is written).
- ``top(n=10)`` → ``[{"player": P, "score": S, "rank": R}, ...]``, best first (ties: the
  earlier score first, then by player), ``1 <= n <= 100``.
- ``rank(player)`` → ``{"player": P, "score": S, "rank": R}``, or ``None`` for a player
  without a score.
- ``reset()`` → the number of players removed.

HTTP, for a look without a caller:

- ``GET /top?n=N`` → ``{"top": [...]}`` as ``top(n)``.
- ``POST /submit`` with ``{"player": P, "score": S}`` → as ``submit``; ``400`` for bad input.
"""

import time

from wdo import DurableObject, HttpError, Response

MAX_TOP = 100


def _player(player):
    if not isinstance(player, str) or not 0 < len(player) <= 64:
        raise ValueError(f"player must be a non-empty str of at most 64 characters, not {player!r}")
    return player


def _score(score):
    if isinstance(score, bool) or not isinstance(score, int) or not -(2**63) <= score < 2**63:
        raise ValueError(f"score must be a 64-bit int, not {score!r}")
    return score


class Leaderboard(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS scores ("
            " player TEXT PRIMARY KEY, score INTEGER NOT NULL, at INTEGER NOT NULL)"
        )
        self.sql.exec("CREATE INDEX IF NOT EXISTS scores_by_rank ON scores (score DESC, at, player)")

    def submit(self, player, score):
        player, score = _player(player), _score(score)
        now = time.time_ns() // 1_000_000
        before = self.sql.exec("SELECT score FROM scores WHERE player = ?", player).to_list()
        improved = not before or score > before[0]["score"]
        if improved:
            self.sql.exec(
                "INSERT INTO scores (player, score, at) VALUES (?, ?, ?)"
                " ON CONFLICT (player) DO UPDATE SET score = excluded.score, at = excluded.at",
                player, score, now,
            )  # fmt: skip
        found = self.rank(player)
        return {"player": player, "best": found["score"], "improved": improved, "rank": found["rank"]}

    def top(self, n=10):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TOP:
            raise ValueError(f"n must be an int from 1 to {MAX_TOP}, not {n!r}")
        rows = self.sql.exec("SELECT player, score FROM scores ORDER BY score DESC, at, player LIMIT ?", n)
        return [{"player": r["player"], "score": r["score"], "rank": i + 1} for i, r in enumerate(rows)]

    def rank(self, player):
        _player(player)
        rows = self.sql.exec(
            "SELECT s.score, (SELECT COUNT(*) FROM scores o"
            "   WHERE o.score > s.score OR (o.score = s.score"
            "     AND (o.at < s.at OR (o.at = s.at AND o.player < s.player)))) + 1 AS rank"
            " FROM scores s WHERE s.player = ?",
            player,
        ).to_list()
        if not rows:
            return None
        return {"player": player, "score": rows[0]["score"], "rank": rows[0]["rank"]}

    def reset(self):
        return self.sql.exec("DELETE FROM scores").rows_written

    def fetch(self, request):
        if request.path == "/top" and request.method == "GET":
            try:
                n = int(request.query.get("n", "10"))
                return Response.json({"top": self.top(n)})
            except ValueError as error:
                raise HttpError(400, str(error)) from None
        if request.path == "/submit" and request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                raise HttpError(400, "the body must be a JSON object with player and score")
            try:
                return Response.json(self.submit(body.get("player"), body.get("score")))
            except ValueError as error:
                raise HttpError(400, str(error)) from None
        raise HttpError(404, "not found")
