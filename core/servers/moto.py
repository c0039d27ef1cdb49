"""A moto server (S3 and DynamoDB in one process) the lab starts on 127.0.0.1 for the s3-import approach.

``MotoServer(port=0).start()`` runs it in memory under ``core.servers.lifecycle.LocalEngine``; the lab uses its S3 and
its ``ImportTable`` (which the other local engines lack). It checks no signatures, so it gets a dummy key pair, never
a user's keys.
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
