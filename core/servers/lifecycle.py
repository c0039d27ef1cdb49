"""Real DynamoDB engines the lab starts on this machine: AWS's DynamoDB Local and host-mode LocalStack.

``LocalEngine.start(timeout)`` (or ``with``) returns once a real ``ListTables`` answered 200 on 127.0.0.1; then
``endpoint_url`` is where to write and ``pid`` the process whose CPU is sampled. The engine runs under ``guard.py``,
so it ends at ``stop()``, at exit and when this process dies however it dies, leaving nothing behind. Every failure is
a one-line ``EmulatorError``. Subclasses say only how to run and probe their engine.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import psutil

from core.domain.errors import ConfigError, EmulatorError
from core.paths import REPO_ROOT, SETUP_DEV
from core.wire.protocol import unsigned_headers

GUARD = Path(__file__).with_name("guard.py")
LOOPBACK = "127.0.0.1"
HEALTH_ACCESS_KEY = "labhealth"  # health checks never carry a user's credentials


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` right now (the engine must bind it soon after; a clash fails start clearly)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def dynamodb_call(endpoint: tuple[str, int], operation: str, body: dict[str, Any],
                  timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """One well-formed DynamoDB JSON call with a throwaway signature (local engines do not check signatures)."""
    return http_json(endpoint, "POST", "/", json.dumps(body).encode(), unsigned_headers(operation, HEALTH_ACCESS_KEY),
                     timeout)


def http_json(endpoint: tuple[str, int], method: str, path: str, body: bytes = b"",
              headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """Status and JSON body (``{}`` when empty or not JSON) of one HTTP request."""
    connection = http.client.HTTPConnection(*endpoint, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        answer = {}
    return response.status, answer if isinstance(answer, dict) else {}


class LocalEngine:
    """One locally started DynamoDB engine; subclasses provide ``name``, ``_command`` and optionally the hooks."""

    name = "engine"
    setup_hint = SETUP_DEV
    grace = 15.0  # seconds between SIGTERM and SIGKILL
    announces_port = False  # True: the command prints {"port": N} or {"error": CODE, "message": ...} first

    def __init__(self, port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535 (0: any free port), got {port}")
        self.requested_port = port
        self.port: int | None = None
        self._guard: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=40)
        self._announced: dict[str, Any] = {}
        self._announcement = threading.Event()
        self._echo = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        url = self.endpoint_url if self.running else None
        return f"{type(self).__name__}(endpoint_url={url!r}, running={self.running})"

    # -- what subclasses say ---------------------------------------------------------------------------------
    def _command(self, port: int) -> tuple[list[str], dict[str, str]]:
        """The command and its full environment; ``port`` is free on 127.0.0.1, or 0 if the engine picks one."""
        raise NotImplementedError

    def _port_to_request(self) -> int:
        """The port passed to ``_command``: the requested one if it is free, or any free one when 0 was asked."""
        if not self.requested_port:
            return free_port()
        try:
            with socket.create_server((LOOPBACK, self.requested_port)):
                pass
        except OSError:
            raise EmulatorError(self._failure("address in use")) from None
        return self.requested_port

    def _ready(self) -> bool:
        """Extra readiness check after ListTables answered 200 (LocalStack: its health endpoint)."""
        return True

    def _cleanup(self) -> None:
        """Remove what ``_command`` created (called after the engine ended)."""

    def _server_process(self, engine: psutil.Process) -> psutil.Process:
        """The process doing the work, given the process the guard started."""
        return engine

    # -- lifecycle -------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None and self.port is not None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise EmulatorError(f"{self.name} is not running: start it first")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def engine_pid(self) -> int | None:
        """The process the guard started (the leader of the engine's process group)."""
        return _child_pid(self._guard.pid) if self._guard is not None else None

    @property
    def pid(self) -> int | None:
        """The server process whose CPU the lab samples (see ``_server_process``), or None when not running."""
        engine_pid = self.engine_pid
        if engine_pid is None:
            return None
        try:
            return self._server_process(psutil.Process(engine_pid)).pid
        except psutil.Error:
            return None

    @property
    def output(self) -> list[str]:
        """The engine's last lines of output (for error messages and the page's log view)."""
        return list(self._output)

    def start(self, timeout: float = 60.0, echo: bool = False) -> LocalEngine:
        """Start the engine and wait until it answers; ``echo`` copies its output to stderr (foreground use)."""
        with self._lock:
            if self.running:
                raise EmulatorError(f"{self.name} is already running at {self.endpoint_url}")
            self._echo = echo
            self._output.clear()
            self._announced, self._announcement = {}, threading.Event()
            port = self._port_to_request()
            command, environment = self._command(port)
            try:
                guard = subprocess.Popen([sys.executable, str(GUARD), str(self.grace), "--", *command],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=environment, cwd=REPO_ROOT, start_new_session=True)
            except OSError as error:
                self._cleanup()
                raise EmulatorError(f"{self.name} could not be started ({error.strerror}): {self.setup_hint}") \
                    from None
            self._guard = guard
            atexit.register(self.stop)
            threading.Thread(target=self._drain, args=(guard.stdout,), daemon=True,
                             name=f"{self.name}-output").start()
            self.port = port or None
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _drain(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if self.announces_port and not self._announcement.is_set() and line.startswith("{"):
                try:
                    announced = json.loads(line)
                except ValueError:
                    announced = None
                if isinstance(announced, dict) and ("port" in announced or "error" in announced):
                    self._announced = announced
                    self._announcement.set()
                    continue
            self._output.append(line)
            if self._echo:
                print(line, file=sys.stderr, flush=True)
        self._announcement.set()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if self.announces_port:
            if not self._announcement.wait(timeout):
                raise EmulatorError(f"{self.name} did not announce its port within {timeout:.0f} s: "
                                    f"{self.setup_hint}")
            if "port" not in self._announced:
                in_use = self._announced.get("error") == "EADDRINUSE"
                raise EmulatorError(self._failure("address in use" if in_use else self._announced.get("message")))
            self.port = int(self._announced["port"])
        port = self.port
        while True:
            if port is None or not self.running:
                raise EmulatorError(self._failure())
            try:
                status, _ = dynamodb_call((LOOPBACK, port), "ListTables", {}, timeout=5.0)
                if status == 200 and self._ready():
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise EmulatorError(f"{self.name} did not answer on {self.endpoint_url} within {timeout:g} s"
                                    f"{self._last_line()}: it is installed but slow or stuck; allow it more time")
            time.sleep(0.2)

    def _failure(self, message: str | None = None) -> str:
        detail = message or self._last_line().removeprefix(" (last output: ").removesuffix(")")
        if "in use" in (detail or "").lower():
            return f"{self.name}: port {self.requested_port} on {LOOPBACK} is in use: pick another, or 0 for any"
        return f"{self.name} stopped while starting ({detail or 'no output'}): {self.setup_hint}"

    def _last_line(self) -> str:
        lines = [line for line in self._output if line.strip()]
        return f" (last output: {lines[-1][:200]})" if lines else ""

    def wait(self) -> int:
        """Block until the engine ends (foreground use); its exit status."""
        guard = self._guard
        return guard.wait() if guard is not None else 0

    def stop(self) -> None:
        """Stop the engine and everything it started (idempotent): SIGTERM, then SIGKILL after ``grace`` s."""
        with self._lock:
            guard, self._guard = self._guard, None
            self.port = None
            if guard is None:
                return
            atexit.unregister(self.stop)
            engine_pid = _child_pid(guard.pid)
            if guard.stdin:
                guard.stdin.close()  # the guard stops the engine's group
            try:
                guard.wait(timeout=self.grace + 15)
            except subprocess.TimeoutExpired:
                guard.kill()
                guard.wait()
                if engine_pid is not None:
                    _killpg(engine_pid, signal.SIGKILL)
            if guard.stdout:
                guard.stdout.close()
            self._cleanup()

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _child_pid(guard_pid: int) -> int | None:
    """The guard's command: its child that leads its own process group (orphans it adopted do not)."""
    try:
        children = psutil.Process(guard_pid).children()
    except psutil.Error:
        return None
    for child in children:
        try:
            if os.getpgid(child.pid) == child.pid:
                return child.pid
        except ProcessLookupError:
            continue
    return None


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


__all__ = ["LOOPBACK", "LocalEngine", "dynamodb_call", "free_port", "http_json"]
