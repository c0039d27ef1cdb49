"""What a report records about where it ran: Python, platform, cores and the versions of the packages measured.

Never raises for a missing package (its version is None); holds nothing secret.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from typing import Any

from core.paths import NODE_MODULES

PACKAGES = ("boto3", "botocore", "aiohttp", "aiobotocore", "Faker", "streamlit", "plotly")


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        versions["dynalite"] = json.loads((NODE_MODULES / "dynalite/package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        versions["dynalite"] = None
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "packages": versions}
