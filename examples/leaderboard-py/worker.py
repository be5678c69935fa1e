"""A Worker in front of the leaderboards (``build.py --worker``): the public API of
``leaderboard-py``, one object per board, reached through the binding ``LEADERBOARD``.

- ``GET /boards/<board>/top?n=N`` → ``{"board": B, "top": [...]}`` (``top(n)``, default 10).
- ``POST /boards/<board>/scores`` with ``{"player": P, "score": S}`` → what ``submit``
  answers; ``400`` with the board's message for bad input.
- ``GET /boards/<board>/players/<player>`` → ``rank(player)``, ``404`` without a score.
"""

from wdo import HttpError, Response, RpcError


async def fetch(request, env):
    parts = request.path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "boards" or not parts[1]:
        raise HttpError(404, "not found: use /boards/<board>/top, /scores or /players/<player>")
    board = env.LEADERBOARD.get_by_name(parts[1])
    try:
        if parts[2:] == ["top"] and request.method == "GET":
            n = request.query.get("n", "10")
            if not n.isdigit():
                raise HttpError(400, f"n must be a number, not {n!r}")
            return Response.json({"board": parts[1], "top": board.top(int(n))})
        if parts[2:] == ["scores"] and request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                raise HttpError(400, "the body must be a JSON object with player and score")
            return Response.json(board.submit(body.get("player"), body.get("score")))
        if len(parts) == 4 and parts[2] == "players" and request.method == "GET":
            found = board.rank(parts[3])
            if found is None:
                raise HttpError(404, f"{parts[3]} has no score on {parts[1]}")
            return Response.json(found)
    except RpcError as error:
        if error.code == "failed" and error.message.startswith("ValueError: "):
            raise HttpError(400, error.message[len("ValueError: "):]) from None
        raise
    raise HttpError(404, "not found")
