#!/usr/bin/env python3
"""Builds a Python Durable Object class, or a Worker, into a wdo component (componentize-py).

    build.py <module.py> --class <Name> --out <file.wasm> [--wit <dir>] [--force]
    build.py --worker <module.py> [--class <Name>] --out <file.wasm> [--wit <dir>] [--force]

Generates an entry module that exports the handlers, and runs ``componentize-py`` against
the SDK's world (``wit/world.wit``): one of wdo's worlds (``--wit``, default: the
repository's ``wit/``) plus wasi:http's outgoing handler for ``wdo.http.fetch``, with the
module's directory and the SDK (``src/``) on the Python path:

- an object: the class's handlers (fetch, alarm, websocket, rpc), ``object`` world;
- ``--worker``: the module's top-level ``fetch(request, env)`` (or, with ``--class``, a class
  with a ``fetch(self, request)`` method), ``worker`` world.

Skips the build if the output was made from exactly the same sources, WIT and toolchain (a
hash kept in ``<file.wasm>.inputs``), so repeated builds cost well under a second.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SDK = Path(__file__).resolve().parent


def sources(directory: Path):
    return sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def inputs_hash(args, entry: str) -> str:
    digest = hashlib.sha256()
    files = [SDK / "requirements.txt"] + sources(SDK / "src") + sources(SDK / "wit") + sources(args.wit)
    files += [p for p in sources(args.module.parent) if p.suffix == ".py"]
    for path in files:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes())
    digest.update(entry.encode())
    return digest.hexdigest()


def componentize_py() -> str:
    beside = Path(sys.executable).parent / "componentize-py"
    found = str(beside) if beside.exists() else shutil.which("componentize-py")
    if not found:
        sys.exit("build.py: componentize-py is not installed (pip install -r guest-sdk/python/requirements.txt)")
    return found


def assemble_wit(wdo_wit: Path, into: Path) -> Path:
    """The SDK's world with wdo's WIT package (and the WASI packages it uses) beside it."""
    directory = into / "wit"
    shutil.copytree(SDK / "wit", directory)
    package = directory / "deps" / "wdo-object"
    package.mkdir(parents=True)
    for path in wdo_wit.glob("*.wit"):
        shutil.copy(path, package / path.name)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description="Build a Python Durable Object or Worker into a wdo component.")
    parser.add_argument("module", type=Path, nargs="?", help="the module that defines the object's class")
    parser.add_argument("--worker", type=Path, metavar="MODULE", help="build a worker from MODULE instead")
    parser.add_argument("--class", dest="class_name", help="the object's class (for a worker: its class, if any)")
    parser.add_argument("--out", type=Path, required=True, help="the component to write")
    parser.add_argument("--wit", type=Path, default=SDK.parent.parent / "wit", help="wdo's WIT package")
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    args = parser.parse_args()
    if (args.module is None) == (args.worker is None):
        parser.error("give either an object's module (with --class) or --worker MODULE")
    if args.worker is None and args.class_name is None:
        parser.error("an object needs --class NAME (or build a worker with --worker)")
    args.module = (args.module or args.worker).resolve()
    args.out = args.out.resolve()
    args.wit = args.wit.resolve()
    if not args.module.is_file() or args.module.suffix != ".py":
        sys.exit(f"build.py: no Python module {args.module}")
    if args.class_name is not None and not args.class_name.isidentifier():
        sys.exit(f"build.py: --class {args.class_name!r} is not a Python class name")
    if not args.module.stem.isidentifier():
        sys.exit(f"build.py: {args.module.name} cannot be imported: its name is not a Python identifier")

    if args.worker is not None:
        world = "py-worker"
        entry = (
            "import wdo.outbound\n"
            "from wdo.worker import entry_from_module, handler_for\n"
            f"import {args.module.stem} as _module\n\n"
            f"FetchHandler = handler_for(entry_from_module(_module, {args.class_name!r}))\n"
        )
    else:
        world = "py-object"
        entry = (
            "import wdo.outbound\n"
            "from wdo.object import handlers_for\n"
            f"from {args.module.stem} import {args.class_name}\n\n"
            f"FetchHandler, AlarmHandler, WebsocketHandler, RpcHandler = handlers_for({args.class_name})\n"
        )
    stamp = args.out.with_name(args.out.name + ".inputs")
    digest = inputs_hash(args, entry)
    if not args.force and args.out.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        print(f"build.py: {os.path.relpath(args.out)} is up to date", file=sys.stderr)
        return

    started = time.monotonic()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wdo-py-") as tmp:
        Path(tmp, "wdo_entry.py").write_text(entry)
        partial = Path(tmp, "out.wasm")
        wit = assemble_wit(args.wit, Path(tmp))
        command = [
            componentize_py(), "-d", str(wit), "-w", world, "componentize",
            "-p", tmp, "-p", str(args.module.parent), "-p", str(SDK / "src"),
            "wdo_entry", "-o", str(partial),
        ]  # fmt: skip
        result = subprocess.run(command, stdout=subprocess.DEVNULL)
        if result.returncode != 0:
            sys.exit(f"build.py: componentize-py failed ({result.returncode}) for {args.module}")
        shutil.move(str(partial), str(args.out))
    stamp.write_text(digest + "\n")
    size = args.out.stat().st_size / 1e6
    elapsed = time.monotonic() - started
    print(f"build.py: built {os.path.relpath(args.out)} ({size:.1f} MB) in {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
