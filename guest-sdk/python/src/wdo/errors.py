"""The SDK's error types for refused host calls, and the conversions every host call goes
through: ``StorageError`` for the storage, sql and websocket interfaces, ``RpcError`` for
stubs (``namespaces``)."""

from componentize_py_types import Err


class StorageError(Exception):
    """A failed storage call. ``code`` is the host's error code (``invalid-argument``,
    ``limit-exceeded``, ``transaction-closed``, ``internal``) or ``serialization`` for a
    value that is not JSON."""

    def __init__(self, code: str, message: str):
        super().__init__(f"storage: {code}: {message}")
        self.code = code
        self.message = message


class RpcError(Exception):
    """A failed ``stub.fetch`` or RPC call. ``code`` is the host's:

    - ``failed``: the callee raised (or trapped, or hit a limit); ``message`` is its error;
    - ``cycle``: the callee is itself waiting on this call (A calls B calls A);
    - ``timeout``: no answer within the host's ``call-timeout`` (the callee may still finish);
    - ``invalid-argument``: a call the host refused before sending it (a method name over
      256 characters, a payload or body over 32 MiB);
    - ``unavailable``: the callee or the host is overloaded or shutting down.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def remote(self) -> bool:
        """The error came from the callee's own code (Cloudflare's ``error.remote``)."""
        return self.code == "failed"

    @property
    def retryable(self) -> bool:
        """Trying again later may succeed: the callee was overloaded or did not answer in time."""
        return self.code in ("timeout", "unavailable")

    @property
    def overloaded(self) -> bool:
        return self.code == "unavailable"


def _code(value) -> str:
    return value.code.name.lower().replace("_", "-")


def _host(call, *args):
    """Runs a host call (of the storage, sql or websocket interface), turning its WIT error
    into a StorageError."""
    try:
        return call(*args)
    except Err as error:
        raise StorageError(_code(error.value), error.value.message) from None


def _rpc(call, *args):
    """Runs a host call of the namespaces interface, turning its WIT error into an RpcError."""
    try:
        return call(*args)
    except Err as error:
        raise RpcError(_code(error.value), error.value.message) from None
