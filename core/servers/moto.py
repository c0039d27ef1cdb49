"""A moto server (S3 and DynamoDB in one process) the lab starts on 127.0.0.1 for the s3-import approach.

Contract: ``MotoServer(port=0).start()`` runs ``python -m moto.server -H 127.0.0.1 -p PORT`` under the lifecycle of
``core.servers.lifecycle.LocalEngine`` (health-checked with a DynamoDB ``ListTables``, its own process group, gone when
the lab ends however it ends). It serves every AWS service moto implements at one URL, in memory; the lab uses its S3
and its DynamoDB ``ImportTable``, which dynalite, DynamoDB Local and LocalStack (community) do not implement. It checks
no signatures (no ``INITIAL_NO_AUTH_ACTION_COUNT``), so the lab gives it a dummy key pair, never a user's keys.
"""

from __future__ import annotations

import os
import sys

from core.paths import SETUP
from core.servers.lifecycle import LOOPBACK, LocalEngine

SETUP_HINT = f"{SETUP} (it installs moto[server], pinned in requirements.txt)"


class MotoServer(LocalEngine):
    """moto's server on 127.0.0.1, every service at one URL; ``pid`` is its Python process."""

    name = "moto"
    setup_hint = SETUP_HINT
    grace = 5.0

    def _command(self, port: int) -> tuple[list[str], dict[str, str]]:
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("AWS_") and key != "INITIAL_NO_AUTH_ACTION_COUNT"}
        environment.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # nothing real inherited
        return [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)], environment
