"""The SDK's one error type for refused host calls, and the conversion every host call of
the storage, sql and websocket interfaces goes through."""

from componentize_py_types import Err


class StorageError(Exception):
    """A failed storage call. ``code`` is the host's error code (``invalid-argument``,
    ``limit-exceeded``, ``transaction-closed``, ``internal``) or ``serialization`` for a
    value that is not JSON."""

    def __init__(self, code: str, message: str):
        super().__init__(f"storage: {code}: {message}")
        self.code = code
        self.message = message


def _host(call, *args):
    """Runs a host call (of the storage, sql or websocket interface), turning its WIT error
    into a StorageError."""
    try:
        return call(*args)
    except Err as error:
        value = error.value
        raise StorageError(value.code.name.lower().replace("_", "-"), value.message) from None
