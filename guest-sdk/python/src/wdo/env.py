"""``self.env``: the component's bindings (other objects' namespaces) and vars, from the
config's ``bindings = { COUNTER = "counter" }`` and ``vars = { GREETING = "hello" }``.

A binding is a ``DurableObjectNamespace``: it makes ids (``id_from_name``,
``new_unique_id``, ``id_from_string``) and stubs (``get(id)``, ``get_by_name(name)``)
that reach its objects, as Cloudflare's ``env.COUNTER`` does::

    stub = self.env.COUNTER.get_by_name("alice")
    stub.increment(5)                          # RPC: the callee's method increment(5)
    stub.fetch("/get").json()                  # HTTP: the callee's fetch
"""

from typing import Any, Dict, Iterator, List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import namespaces as wit

from .stub import DurableObjectStub


def _checked(call, *args) -> str:
    """An id call: a malformed or foreign id is bad input, a ``ValueError`` with the host's
    message."""
    try:
        return call(*args)
    except Err as error:
        raise ValueError(error.value.message) from None


class DurableObjectId:
    """An object's id: ``str(id)`` is its 64 hex characters; ``name`` the name it was made
    from (``id_from_name``), else ``None``. Ids compare equal when they name the same
    object."""

    __slots__ = ("_hex", "name")

    def __init__(self, hex_id: str, name: Optional[str] = None):
        self._hex = hex_id
        #: The name the id was made from with ``id_from_name``, else ``None``.
        self.name = name

    def __str__(self) -> str:
        return self._hex

    def to_string(self) -> str:
        return self._hex

    def equals(self, other: "DurableObjectId") -> bool:
        return self == other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __hash__(self) -> int:
        return hash(self._hex)

    def __repr__(self) -> str:
        named = "" if self.name is None else f", name={self.name!r}"
        return f"DurableObjectId({self._hex!r}{named})"


class DurableObjectNamespace:
    """A binding: the objects of one namespace (``binding`` is its name in ``env``)."""

    def __init__(self, binding: str, namespace: str):
        self.binding = binding
        #: The namespace (object class) it reaches, as named in the config.
        self.namespace = namespace

    def id_from_name(self, name: str) -> DurableObjectId:
        """The id of the object called ``name`` (the same every time)."""
        if not isinstance(name, str):
            raise TypeError(f"id_from_name() takes a str name, not {type(name).__name__}")
        return DurableObjectId(_checked(wit.id_from_name, self.binding, name), name)

    def new_unique_id(self) -> DurableObjectId:
        """A new random id that no name maps to."""
        return DurableObjectId(_checked(wit.new_unique_id, self.binding))

    def id_from_string(self, hex_id: str) -> DurableObjectId:
        """The id written as ``str(id)``; ``ValueError`` if it is malformed or an id of
        another namespace."""
        if not isinstance(hex_id, str):
            raise TypeError(f"id_from_string() takes a str, not {type(hex_id).__name__}")
        return DurableObjectId(_checked(wit.id_from_string, self.binding, hex_id))

    def get(self, id: DurableObjectId) -> DurableObjectStub:
        """A stub on the object ``id``. Making it does not wake the object; its first
        ``fetch`` or call does."""
        if not isinstance(id, DurableObjectId):
            hint = " (make one with id_from_string)" if isinstance(id, str) else ""
            raise TypeError(f"get() takes a DurableObjectId, not {type(id).__name__}{hint}")
        return DurableObjectStub(self.binding, id)

    def get_by_name(self, name: str) -> DurableObjectStub:
        """``get(id_from_name(name))``: the callee sees ``name`` as its ``ctx.name``."""
        return self.get(self.id_from_name(name))

    def __repr__(self) -> str:
        return f"DurableObjectNamespace({self.binding} -> {self.namespace!r})"


class Env:
    """The bindings (``DurableObjectNamespace``) and vars (``str``) as attributes,
    ``env.COUNTER``, or items, ``env["COUNTER"]``."""

    def __init__(self, bindings: List[Tuple[str, str]] = (), vars: List[Tuple[str, str]] = ()):
        entries: Dict[str, Any] = {}
        for name, namespace in bindings:
            entries[name] = DurableObjectNamespace(name, namespace)
        for name, value in vars:
            entries[name] = value
        # Instance attributes: a binding or var named like a method below shadows it.
        self.__dict__.update(entries)
        object.__setattr__(self, "_Env__names", list(entries))

    @classmethod
    def from_host(cls) -> "Env":
        return cls(wit.bindings(), wit.vars())

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not bindings or vars.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"env has no binding or var {name!r} (it has: {', '.join(self.__names) or 'none'})")

    def __getitem__(self, name: str) -> Any:
        if name not in self.__names:
            raise KeyError(name)
        return self.__dict__[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self.__names else default

    def __contains__(self, name: object) -> bool:
        return name in self.__names

    def __iter__(self) -> Iterator[str]:
        return iter(self.__names)

    def __len__(self) -> int:
        return len(self.__names)

    def __repr__(self) -> str:
        return f"Env({', '.join(self.__names)})"
