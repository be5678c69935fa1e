"""``ctx.storage``: the object's private, transactional key-value store.

Keys are strings, ordered by their UTF-8 bytes. Values are stored as JSON (compact UTF-8),
the format of the Rust and JavaScript SDKs, so an object's data reads the same from every
language. Every call joins the event's implicit transaction, and the innermost open
``transaction()``.
"""

import json
from typing import Any, Dict, Iterable, Mapping, Optional

from datetime import datetime
from typing import Union

from wit_world.imports import alarm as wit_alarm
from wit_world.imports import storage as wit

from .errors import StorageError, _host
from .sql import Sql


def _encode(key: str, value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise StorageError("serialization", f"cannot store the value for key {key!r} as JSON: {error}") from None


def _decode(key: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StorageError("serialization", f"the value at key {key!r} is not JSON: {error}") from None


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"storage keys are str, not {type(key).__name__}")
    return key


class Storage:
    """The object's storage; get it as ``self.ctx.storage``."""

    @property
    def sql(self):
        """SQL over the object's database (``wdo.sql.Sql``)."""
        return Sql()

    def get(self, key: str, default: Any = None) -> Any:
        """The value at ``key``, or ``default`` if the key is absent."""
        data = _host(wit.get, _key(key))
        return default if data is None else _decode(key, data)

    def get_many(self, keys: Iterable[str]) -> Dict[str, Any]:
        """The present keys among ``keys`` (at most 128) with their values, in key order."""
        entries = _host(wit.get_many, [_key(key) for key in keys])
        return {key: _decode(key, data) for key, data in entries}

    def put(self, key: str, value: Any) -> None:
        """Stores ``value`` (anything ``json.dumps`` accepts) at ``key``."""
        _host(wit.put, _key(key), _encode(key, value))

    def put_many(self, entries: Mapping[str, Any]) -> None:
        """Stores all ``entries`` (at most 128) atomically."""
        _host(wit.put_many, [(_key(key), _encode(key, value)) for key, value in entries.items()])

    def delete(self, key: str) -> bool:
        """Deletes ``key``; returns whether it existed."""
        return _host(wit.delete, _key(key))

    def delete_many(self, keys: Iterable[str]) -> int:
        """Deletes ``keys`` (at most 128); returns how many existed."""
        return _host(wit.delete_many, [_key(key) for key in keys])

    def list(
        self,
        *,
        start: Optional[str] = None,
        start_after: Optional[str] = None,
        end: Optional[str] = None,
        prefix: Optional[str] = None,
        reverse: bool = False,
        limit: Optional[int] = None,
    ) -> Dict[str, Any]:
        """The selected entries in key order (descending if ``reverse``): ``start`` is
        inclusive, ``start_after`` and ``end`` exclusive, ``limit`` greater than 0."""
        options = wit.ListOptions(start, start_after, end, prefix, reverse, limit)
        return {key: _decode(key, data) for key, data in _host(wit.list, options)}

    def delete_all(self) -> None:
        """Deletes every key, and the alarm. Not allowed inside a transaction."""
        _host(wit.delete_all)

    def get_alarm(self) -> Optional[int]:
        """The alarm's time (Unix ms), or None. None while ``alarm`` runs, unless it set a new one."""
        return _host(wit_alarm.get_alarm)

    def set_alarm(self, scheduled: Union[int, float, datetime]) -> None:
        """Sets (overwrites) the object's one alarm: Unix ms or an aware ``datetime``. Part
        of the event's transaction: if that rolls back, so does the alarm."""
        ms = int(scheduled.timestamp() * 1000) if isinstance(scheduled, datetime) else int(scheduled)
        if ms <= 0:
            raise ValueError("set_alarm() needs a time after 1970 (Unix milliseconds)")
        _host(wit_alarm.set_alarm, ms)

    def delete_alarm(self) -> None:
        _host(wit_alarm.delete_alarm)

    def transaction(self) -> "Transaction":
        """An explicit transaction, as a context manager::

            with self.ctx.storage.transaction() as txn:
                ...   # storage calls here belong to the transaction
                if bad:
                    txn.rollback()

        Committed when the block ends normally, rolled back when it raises (the exception
        propagates) or by ``txn.rollback()``. Transactions nest.
        """
        return Transaction()


class Transaction:
    """An open explicit transaction; see ``Storage.transaction``."""

    def __init__(self):
        self._resource = None
        self._rolled_back = False

    def __enter__(self) -> "Transaction":
        self._resource = _host(wit.Transaction.begin)
        return self

    def rollback(self) -> None:
        """Undoes the transaction's writes now; later storage calls fail until it ends."""
        if not self._rolled_back:
            _host(self._resource.rollback)
            self._rolled_back = True

    def __exit__(self, exc_type, exc, traceback) -> None:
        resource, self._resource = self._resource, None
        try:
            if self._rolled_back:
                pass
            elif exc_type is None:
                _host(resource.commit)
            else:
                # The block's exception is what matters; dropping the resource (below) rolls
                # the transaction back even if this fails.
                try:
                    resource.rollback()
                except Err:
                    pass
        finally:
            resource.__exit__(None, None, None)
