"""LocalStack itself in host mode (no Docker), started by the lab on 127.0.0.1, with its DynamoDB only.

``LocalStack(port=0).start()`` runs it from ``.venv-localstack`` under ``core.servers.lifecycle.LocalEngine`` and
returns once its health shows dynamodb running and a DynamoDB call answered. Each start gets a fresh
``FILESYSTEM_ROOT`` under ``.lab/localstack/`` (removed at stop, or at the next start after a kill) with DynamoDB Local
pre-placed, so it never downloads anything. The gateway and its DynamoDB Local listen on 127.0.0.1 only. ``pid`` is
the Java process when found. ``main(argv)`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import NoReturn

import psutil

from core.domain.endpoints import DEFAULT_REGION, DUMMY_KEYS, try_commands
from core.domain.errors import ConfigError, EmulatorError
from core.domain.numbers import INT, flag_type, seconds
from core.paths import LAB_DIR, REPO_ROOT, SETUP_DEV
from core.servers.dynamodb_local import distribution_dir
from core.servers.java import LAUNCHER_CLASS, java_executable, java_tools
from core.servers.lifecycle import LOOPBACK, LocalEngine, http_json

VENV = Path(os.environ.get("LAB_LOCALSTACK_VENV", REPO_ROOT / ".venv-localstack"))
RUNS_DIR = LAB_DIR / "localstack"
SETUP_HINT = f"{SETUP_DEV} (it installs LocalStack into .venv-localstack on Python 3.13, and Java)"
DEFAULT_PORT = 4566
DYNAMODB_LOCAL_DIR = Path("var", "lib", "localstack", "lib", "dynamodb-local", "2")  # inside FILESYSTEM_ROOT
ENVIRONMENT = {  # see ENGINES.md: every one of these was needed here
    "GATEWAY_SERVER": "hypercorn",  # the default (twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN says
    "SERVICES": "dynamodb",
    "EAGER_SERVICE_LOADING": "1",
    "DYNAMODB_IN_MEMORY": "1",
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DISABLE_EVENTS": "1",
    "LOCALSTACK_TELEMETRY_DISABLED": "1",
    "DNS_ADDRESS": "0",
    "OVERRIDE_IN_DOCKER": "0",  # these machines look like containers; without it FILESYSTEM_ROOT is ignored
    "DDB_LOCAL_TELEMETRY": "0",
}
JAVA_SHIM = """#!/bin/sh
# Written by core/servers/localstack.py for one LocalStack run: starts LocalStack's DynamoDB Local through the
# lab's launcher so it listens on {host} only; any other java command runs unchanged.
real={java}
launcher={launcher}
take=
for arg in "$@"; do
  shift
  if [ -n "$take" ]; then
    take=
    case "$arg" in
      */DynamoDBLocal.jar) set -- "$@" -Dlab.bind.host={host} -cp "$arg:$launcher" {main}; continue ;;
      *) set -- "$@" -jar "$arg"; continue ;;
    esac
  fi
  if [ "$arg" = -jar ]; then take=1; continue; fi
  set -- "$@" "$arg"
done
exec "$real" "$@"
"""


def venv_python(venv: Path = VENV) -> Path:
    """The LocalStack virtualenv's interpreter; an ``EmulatorError`` saying what to run when it is missing."""
    python = venv / "bin" / "python"
    if not python.exists() or not any(venv.glob("lib/python3*/site-packages/localstack/runtime/main.py")):
        raise EmulatorError(f"LocalStack is not installed (no {venv.name}): {SETUP_HINT}")
    return python


def prepare_filesystem_root(root: Path) -> None:
    """Lay out ``root`` as LocalStack's FILESYSTEM_ROOT: DynamoDB Local and the agent pre-placed, the java shim."""
    distribution = distribution_dir()
    tools = java_tools()
    dynamodb_local = root / DYNAMODB_LOCAL_DIR
    dynamodb_local.mkdir(parents=True)
    (dynamodb_local / "DynamoDBLocal.jar").symlink_to(distribution / "DynamoDBLocal.jar")
    (dynamodb_local / "DynamoDBLocal_lib").symlink_to(distribution / "DynamoDBLocal_lib")
    (dynamodb_local / tools.agent_jar.name).symlink_to(tools.agent_jar)
    shim = root / "bin" / "java"
    shim.parent.mkdir()
    shim.write_text(JAVA_SHIM.format(java=shlex.quote(java_executable()), launcher=shlex.quote(str(tools.launcher_jar)),
                                     host=LOOPBACK, main=LAUNCHER_CLASS))
    shim.chmod(0o755)
    (root / "lab.pid").write_text(str(os.getpid()))


def prune_runs(runs_dir: Path = RUNS_DIR) -> None:
    """Remove run directories whose lab process is gone (left behind by a killed lab)."""
    if not runs_dir.is_dir():
        return
    for run in runs_dir.iterdir():
        try:
            owner = int((run / "lab.pid").read_text())
        except (OSError, ValueError):
            owner = 0
        if owner == os.getpid() or (owner and psutil.pid_exists(owner)):
            continue
        shutil.rmtree(run, ignore_errors=True)


class LocalStack(LocalEngine):
    """Host-mode LocalStack serving DynamoDB on 127.0.0.1; ``health_url`` is its ``/_localstack/health``."""

    name = "LocalStack"
    setup_hint = SETUP_HINT
    grace = 15.0

    def __init__(self, port: int = 0, venv: Path = VENV) -> None:
        super().__init__(port)
        self.venv = venv
        self.filesystem_root: Path | None = None

    @property
    def health_url(self) -> str:
        return f"{self.endpoint_url}/_localstack/health"

    def health(self) -> dict[str, str]:
        """The services and their states as LocalStack reports them (``{"dynamodb": "running", ...}``)."""
        if self.port is None:
            raise EmulatorError("LocalStack is not running: start it first")
        status, answer = http_json((LOOPBACK, self.port), "GET", "/_localstack/health")
        services = answer.get("services")
        return {str(k): str(v) for k, v in services.items()} if status == 200 and isinstance(services, dict) else {}

    def _command(self, port: int) -> tuple[list[str], dict[str, str]]:
        python = venv_python(self.venv)
        prune_runs()
        RUNS_DIR.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="run-", dir=RUNS_DIR))
        self.filesystem_root = root
        try:
            prepare_filesystem_root(root)
        except BaseException:
            self._cleanup()
            raise
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LOCALSTACK_"))}
        environment.update(ENVIRONMENT, GATEWAY_LISTEN=f"{LOOPBACK}:{port}", FILESYSTEM_ROOT=str(root),
                           PATH=os.pathsep.join([str(root / "bin"), environment.get("PATH", os.defpath)]))
        environment.pop("PYTHONPATH", None)
        environment.pop("VIRTUAL_ENV", None)
        return [str(python), "-m", "localstack.runtime.main"], environment

    def _ready(self) -> bool:
        return self.health().get("dynamodb") == "running"

    def _server_process(self, engine: psutil.Process) -> psutil.Process:
        for child in engine.children(recursive=True):
            try:
                if child.name() == "java":
                    return child
            except psutil.Error:
                continue
        return engine

    def _cleanup(self) -> None:
        root, self.filesystem_root = self.filesystem_root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


class _Parser(argparse.ArgumentParser):
    """Refusals are one ``error:`` line on stderr, exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


HELP = """\
Run LocalStack's DynamoDB on this machine without Docker (host mode, on
127.0.0.1 only) until Ctrl-C. It prints the lines to try it with; its own
log (a line per request) is shown with --verbose.

examples:
  python -m core localstack
  python -m core localstack --port 0 --verbose
  ./lab.sh localstack --port 4566
"""


def main(argv: list[str] | None = None) -> int:
    """``python -m core localstack [--port 4566] [--verbose]``: run LocalStack (DynamoDB) in the foreground until
    Ctrl-C; its log is copied to stderr only with ``--verbose`` (and its last lines shown if it ends by itself)."""
    parser = _Parser(prog="python -m core localstack", description=HELP,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=INT, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free port; "
                                                                       f"default {DEFAULT_PORT})")
    parser.add_argument("--timeout", type=flag_type(seconds, "timeout", "seconds above 0"), default=120.0,
                        help="seconds to wait for it to be ready (default 120)")
    parser.add_argument("--verbose", action="store_true", help="copy LocalStack's log (a line per request) to stderr")
    arguments = parser.parse_args(argv)
    stop = threading.Event()

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    try:
        engine = LocalStack(port=arguments.port)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, interrupt)
    try:  # one block, so a Ctrl-C at any point (even while starting) ends in engine.stop()
        engine.start(timeout=arguments.timeout, echo=arguments.verbose)
        url = engine.endpoint_url
        print("\n".join([f"LocalStack (DynamoDB) is ready at {url} - health: {engine.health_url}  (Ctrl-C stops it)",
                         "Conditions: none added (LocalStack answers as it does; for latency, faults or a capacity "
                         f"model: python -m core proxy --upstream {url})",
                         "Paste into the shell of your own code (the AWS CLI, boto3 and the other SDKs read these):",
                         f"  export AWS_ENDPOINT_URL={url} {DUMMY_KEYS} AWS_DEFAULT_REGION={DEFAULT_REGION}",
                         "Or try it as is (no AWS account needed):",
                         *(f"  {line}" for line in try_commands(url, "localstack"))]), flush=True)
        while engine.running and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        engine.stop()
    if not stop.is_set():
        if not arguments.verbose:
            print("\n".join(engine.output[-20:]), file=sys.stderr)
        print("error: LocalStack ended by itself (its log is above)", file=sys.stderr)
        return 1
    print("LocalStack stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
