"""``self.ctx.storage.sql``: SQL over the object's own SQLite database, in the event's
transaction (and the innermost open ``storage.transaction()``)."""

from typing import Any, Dict, Iterator, List

from wit_world.imports import sql as wit

from .errors import _host


def _to_wit(value: Any, index: int):
    if value is None:
        return wit.Value_Null()
    if isinstance(value, bool):
        return wit.Value_Integer(int(value))
    if isinstance(value, int):
        return wit.Value_Integer(value)
    if isinstance(value, float):
        return wit.Value_Real(value)
    if isinstance(value, str):
        return wit.Value_Text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return wit.Value_Blob(bytes(value))
    raise TypeError(f"sql.exec(): binding {index + 1} is a {type(value).__name__}; use None, int, float, str or bytes")


def _from_wit(value) -> Any:
    return None if isinstance(value, wit.Value_Null) else value.value


class Cursor:
    """The rows of the last statement: iterate for dicts, or ``to_list()``, ``one()``, ``raw()``."""

    def __init__(self, cursor):
        self.column_names: List[str] = list(cursor.columns)
        self.rows_read: int = cursor.rows_read
        self.rows_written: int = cursor.rows_written
        self._rows = cursor.rows
        self._next = 0

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        if self._next >= len(self._rows):
            raise StopIteration
        row = self._rows[self._next]
        self._next += 1
        return {name: _from_wit(v) for name, v in zip(self.column_names, row)}

    def to_list(self) -> List[Dict[str, Any]]:
        return list(self)

    def one(self) -> Dict[str, Any]:
        rows = self.to_list()
        if len(rows) != 1:
            raise ValueError(f"expected exactly one row, got {len(rows)}")
        return rows[0]

    def raw(self) -> List[List[Any]]:
        rows = [[_from_wit(v) for v in row] for row in self._rows[self._next :]]
        self._next = len(self._rows)
        return rows


class Sql:
    def exec(self, query: str, *bindings: Any) -> Cursor:
        """Runs ``query`` (statements separated by ``;``, only the last with ``?``
        parameters). A failure raises ``StorageError`` with the host's code
        (``query-failed``, ``constraint``, ``not-authorized``, ...)."""
        params = [_to_wit(v, i) for i, v in enumerate(bindings)]
        return Cursor(_host(wit.exec, query, params))

    @property
    def database_size(self) -> int:
        return wit.database_size()
