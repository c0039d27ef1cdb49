"""HTTP_PROXY/HTTPS_PROXY: a loopback target never goes through a proxy, whatever the environment says, for every
client the lab uses; a remote one goes through it exactly as the environment says (NO_PROXY respected); a bare 502
from a proxy is named as the proxy's. A real capture proxy on 127.0.0.1 records every request; the "remote" host
``lab-remote.test`` exists only inside that proxy (it forwards to the embedded emulator), and a socket guard
refuses any lookup or connection beyond loopback, so nothing leaves the machine."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from core.app.cli import main
from core.domain.approaches import APPROACHES
from core.domain.endpoints import proxy_for
from core.paths import REPO_ROOT
from core.servers.emulator import Emulator

WRITERS = tuple(name for name, a in APPROACHES.items() if a.unavailable is None and a.driver not in ("import", "bulk"))
FROM_S3 = "s3-import,bulk-put"  # they read the lab's own S3 (moto), which only the embedded target starts
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
REMOTE = "lab-remote.test"  # served by the capture proxy alone
BROKEN = "lab-broken.test"  # the capture proxy answers 502 for it, as a proxy does for an upstream it cannot reach


class CaptureProxy:
    """A forward proxy on 127.0.0.1 that records every request line; requests for ``REMOTE`` are forwarded to the
    emulator, anything else gets a 502 with an HTML body."""

    def __init__(self, upstream_port: int) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_any(self) -> None:
                proxy.seen.append(f"{self.command} {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                if self.command != "CONNECT" and parts.hostname == REMOTE:
                    upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection",)}
                    upstream.request(self.command, parts.path or "/", body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                            self.send_header(key, value)
                    upstream.close()
                else:
                    data = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    self.send_response(502)
                    self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_CONNECT = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CaptureProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture(emulator: Emulator) -> Iterator[CaptureProxy]:
    with CaptureProxy(int(urlsplit(emulator.endpoint_url).port or 0)) as proxy:
        yield proxy


def proxied_env(proxy: CaptureProxy, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k.lower() != "no_proxy"}
    env.update({name: proxy.url for name in PROXY_VARIABLES}, AWS_ACCESS_KEY_ID="AKIDPROXYTEST",
               AWS_SECRET_ACCESS_KEY="proxy-test-secret", AWS_SESSION_TOKEN="proxy-test-token",
               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", **extra)
    return env


@pytest.mark.parametrize("approaches", [",".join(WRITERS), FROM_S3])
def test_a_loopback_target_never_goes_through_the_environments_proxy(
        emulator: Emulator, capture: CaptureProxy, approaches: str) -> None:
    """Every client (boto3, aiobotocore, the aiohttp writer, aiodynamo, the official SDK, the S3 client and the
    moto server s3-import and bulk-put start, the admin calls, the lease, verification): zero requests reach the
    proxy named in all four variables."""
    where = ["--target", "embedded"] if approaches == FROM_S3 else \
        ["--target", "custom", "--endpoint-url", emulator.endpoint_url]
    result = subprocess.run(
        [sys.executable, "-m", "core", "run", *where, "--items", "20", "--approaches", approaches,
         "--history", "off"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=proxied_env(capture), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert capture.seen == []


def _remote_env(monkeypatch: pytest.MonkeyPatch, proxy: CaptureProxy, no_proxy: str | None) -> None:
    for name, value in proxied_env(proxy).items():
        if name in PROXY_VARIABLES or name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    for name in ("NO_PROXY", "no_proxy", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)


def test_a_remote_target_goes_through_the_proxy_the_environment_names(
        emulator: Emulator, capture: CaptureProxy, no_remote_sockets: list[object],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _remote_env(monkeypatch, capture, None)
    url = f"http://{REMOTE}:{urlsplit(emulator.endpoint_url).port}"
    assert main(["run", "--target", "custom", "--endpoint-url", url, "--yes", "--items", "10",
                 "--approaches", ",".join(WRITERS), "--history", "off"]) == 0
    assert no_remote_sockets == []  # nothing looked up or connected beyond loopback: all went through the proxy
    posts = [line for line in capture.seen if line.startswith(f"POST http://{REMOTE}:")]
    assert len(posts) >= len(WRITERS) * 2 and len(posts) == len(capture.seen), capture.seen[:5]


def test_no_proxy_is_respected_for_a_remote_target(
        emulator: Emulator, capture: CaptureProxy, no_remote_sockets: list[object],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _remote_env(monkeypatch, capture, f"example.org,{REMOTE}")
    url = f"http://{REMOTE}:{urlsplit(emulator.endpoint_url).port}"
    assert main(["run", "--target", "custom", "--endpoint-url", url, "--yes", "--items", "5",
                 "--approaches", "sequential,async,aiobotocore", "--history", "off"]) != 0
    assert capture.seen == []  # NO_PROXY names the host: the lab went direct (and the guard refused the lookup)
    assert REMOTE in no_remote_sockets
    assert "not reachable" in capsys.readouterr().err


def test_a_502_from_the_proxy_is_named_as_the_proxys(
        capture: CaptureProxy, no_remote_sockets: list[object], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _remote_env(monkeypatch, capture, None)
    assert main(["run", "--target", "custom", "--endpoint-url", f"http://{BROKEN}:8000", "--yes", "--items", "5",
                 "--approaches", "async", "--history", "off"]) != 0
    err = capsys.readouterr().err
    assert "HTTP502: a proxy (HTTP_PROXY/HTTPS_PROXY" in err and "Traceback" not in err, err
    assert capture.seen and no_remote_sockets == []


@pytest.mark.parametrize(("url", "env", "expected"), [
    ("http://127.0.0.1:8000", {"HTTP_PROXY": "http://p:3128"}, None),
    ("http://127.9.9.9:8000", {"HTTP_PROXY": "http://p:3128", "NO_PROXY": ""}, None),
    ("http://localhost:8000", {"http_proxy": "http://p:3128"}, None),
    ("http://[::1]:8000", {"HTTP_PROXY": "http://p:3128"}, None),
    ("https://127.0.0.1:8443", {"HTTPS_PROXY": "http://p:3128"}, None),
    ("http://db.example.com:8000", {"HTTP_PROXY": "http://p:3128"}, "http://p:3128"),
    ("https://db.example.com", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
    ("https://db.example.com", {"HTTP_PROXY": "http://p:3128"}, None),  # only the https variable serves https
    ("https://db.example.com", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"}, None),
    ("https://db.example.com", {"HTTPS_PROXY": "http://p:3128", "no_proxy": "*"}, None),
    ("https://db.example.com", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "other.com"}, "http://p:3128"),
    (None, {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),  # AWS's own endpoint
    (None, {}, None),
])
def test_the_proxy_decision(monkeypatch: pytest.MonkeyPatch, url: str | None, env: dict[str, str],
                            expected: str | None) -> None:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(url) == expected
