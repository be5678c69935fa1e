"""Test hooks for wdo objects, for Python tests (``unittest``, pytest, ...): start a real
``wdo serve`` on free loopback ports with a fresh data directory, speak HTTP to its objects,
and through its admin API evict an object, run its alarm now, and read its storage.

    from wdo_testing import start_wdo
    with start_wdo(namespaces={"counter": "dist/counter.wasm"}) as wdo:
        wdo.request("POST", "/counter/a/increment")
        wdo.object("counter", "a").evict()        # the next event meets a new instance
        assert wdo.object("counter", "a").storage()["count"] == 1

The ``wdo`` binary is ``binary``, else ``$WDO_BIN``, else ``wdo`` on the PATH. Each server
gets a random admin token, so the hooks go through the same authentication as an
operator's tools. Standard library only; runs on the machine's Python, not in a component.
"""

import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional, Sequence

__all__ = ["start_wdo", "Wdo", "ObjectHandle", "WdoError"]


class WdoError(Exception):
    """The server did not start, or the admin API answered an error (its reason included)."""


def start_wdo(
    namespaces: Optional[Dict[str, str]] = None,
    config: Optional[str] = None,
    settings: Sequence[str] = (),
    binary: Optional[str] = None,
    cache_dir: Optional[str] = None,
) -> "Wdo":
    """Starts ``wdo serve``. ``namespaces``: ``{name: component_path}``; or ``config``: a
    project's ``wdo.toml`` (its addresses and data directory are replaced by the test's own).
    ``settings``: top-level TOML lines added to the generated config."""
    if not config and not namespaces:
        raise WdoError("start_wdo: nothing to serve: give namespaces or config")
    directory = tempfile.mkdtemp(prefix="wdo-test-")
    if not config:
        cache = cache_dir or os.environ.get("WDO_TEST_CACHE_DIR") or os.path.join(
            tempfile.gettempdir(), "wdo-testing-cache")
        text = f"cache-dir = {json.dumps(cache)}\n" + "".join(f"{line}\n" for line in settings)
        for name, component in namespaces.items():
            text += (f"\n[[namespace]]\nname = {json.dumps(name)}\n"
                     f"component = {json.dumps(os.path.abspath(component))}\n")
        config = os.path.join(directory, "wdo.toml")
        with open(config, "w") as file:
            file.write(text)
    token = secrets.token_hex(16)
    binary = binary or os.environ.get("WDO_BIN") or "wdo"
    log_path = os.path.join(directory, "wdo.log")
    try:
        with open(log_path, "w") as log:
            child = subprocess.Popen(
                [binary, "serve", "--config", config, "--data-dir", os.path.join(directory, "data"),
                 "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                env={**os.environ, "WDO_ADMIN_TOKEN": token},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise WdoError(f"cannot start {binary} (set WDO_BIN to the wdo binary): {error}") from None
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: lines.put(child.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        line = ""
    match = re.match(r"^wdo listening on (http://\S+) \(admin (http://\S+)\)", line)
    if not match:
        child.kill()
        child.wait()
        with open(log_path) as log:
            text = log.read()
        shutil.rmtree(directory, ignore_errors=True)
        raise WdoError(f"wdo did not start (first line {line!r}):\n{text}")
    return Wdo(child, match.group(1), match.group(2), token, directory)


class Wdo:
    """A running ``wdo serve``; a context manager that stops it."""

    def __init__(self, child, url: str, admin: str, token: str, directory: str):
        self._child = child
        self.base_url = url
        self._admin = admin
        self._token = token
        self._directory = directory

    def url(self, path: str) -> str:
        """The public URL of ``path``, e.g. ``/counter/a/increment``."""
        return self.base_url + path

    def request(self, method: str, path: str, body: Any = None):
        """One request to the public listener: ``(status, body bytes)``; a dict or list
        body is sent as JSON."""
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        request = urllib.request.Request(self.url(path), data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def object(self, namespace: str, name: str) -> "ObjectHandle":
        """The object named ``name`` (or ``@<id>``) of ``namespace``."""
        quote = lambda s: urllib.parse.quote(s, safe="@")
        return ObjectHandle(self, f"/v1/namespaces/{quote(namespace)}/objects/{quote(name)}")

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A request to the admin API: its JSON answer; ``WdoError`` with the host's reason."""
        headers = {"Authorization": f"Bearer {self._token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self._admin + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                reason = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                reason = text
            raise WdoError(f"the admin API answered {error.code}: {reason}") from None

    def log(self) -> str:
        """What the server logged so far."""
        try:
            with open(os.path.join(self._directory, "wdo.log")) as log:
                return log.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """Stops the server gracefully (in-flight events finish and commit)."""
        if self._child.poll() is None:
            self._child.send_signal(signal.SIGTERM)
            try:
                self._child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        self._child.stdout.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> "Wdo":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


class ObjectHandle:
    """One object's hooks."""

    def __init__(self, wdo: Wdo, path: str):
        self._wdo = wdo
        self._path = path

    def evict(self) -> None:
        """Evicts the object and waits until its instance is gone (it finishes what is
        queued first), so the next event meets a new instance built from storage."""
        self._wdo.admin("POST", f"{self._path}/evict")
        deadline = time.monotonic() + 30
        while True:
            info = self.info()
            if info["live"] is False:
                return
            if time.monotonic() > deadline:
                raise WdoError(f"the object is still live 30 s after its eviction: {info}")
            time.sleep(0.02)

    def run_alarm(self) -> bool:
        """Runs the alarm handler now, as the scheduler would; False without an alarm."""
        return self._wdo.admin("POST", f"{self._path}/alarm/run")["ran"] is True

    def alarm(self) -> Optional[int]:
        """The alarm's time (Unix ms), or None."""
        return self._wdo.admin("GET", f"{self._path}/alarm")["scheduledMs"]

    def storage(self, prefix: str = "") -> Dict[str, Any]:
        """Every key-value entry (or those under ``prefix``), in key order. Values stored as
        JSON (as the SDKs store them) come back decoded; other text as str; bytes that are
        not UTF-8 as bytes."""
        entries: Dict[str, Any] = {}
        cursor = None
        while True:
            query = {"limit": "1000", "prefix": prefix}
            if cursor:
                query["cursor"] = cursor
            page = self._wdo.admin("GET", f"{self._path}/kv?{urllib.parse.urlencode(query)}")
            for entry in page["entries"]:
                if "value" in entry:
                    try:
                        entries[entry["key"]] = json.loads(entry["value"])
                    except ValueError:
                        entries[entry["key"]] = entry["value"]
                else:
                    entries[entry["key"]] = bytes.fromhex(entry["valueHex"])
            cursor = page["cursor"]
            if not cursor:
                return entries

    def info(self) -> Dict[str, Any]:
        """The summary: ``sizeBytes``, ``lastWriteMs``, ``live``, ``alarmMs``, ``sockets``."""
        return self._wdo.admin("GET", self._path)

    def sql(self, statement: str) -> Dict[str, Any]:
        """One read-only SQL statement on the object's database: ``{columns, rows}``."""
        return self._wdo.admin("POST", f"{self._path}/sql", {"sql": statement})
