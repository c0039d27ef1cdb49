"""The lab's two small Java helpers, built from ``core/servers/java/*.java`` with the JDK, and where Java is found.

``java_tools()`` returns the jars (``lab-engines.jar``: DynamoDB Local bound to 127.0.0.1; ``ddb-local-loader``: the
agent LocalStack loads), building them atomically under ``.lab/java/`` when missing or stale. ``java_executable()``
finds Java 17 or later. Every failure is an ``EmulatorError`` saying what to run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.domain.errors import EmulatorError
from core.paths import LAB_DIR, SETUP_DEV

SOURCES = Path(__file__).with_name("java")
BUILD_DIR = LAB_DIR / "java"
SETUP_HINT = f"{SETUP_DEV} (it installs Debian's default-jdk-headless and builds the lab's Java helpers)"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
AGENT_CLASS = "DdbLocalLoader"


@dataclass(frozen=True)
class JavaTools:
    """Paths of the built helpers."""

    launcher_jar: Path  # holds LAUNCHER_CLASS; put it on the classpath after DynamoDBLocal.jar
    agent_jar: Path  # the do-nothing agent, named as LocalStack expects it


def java_executable() -> str:
    """The ``java`` to run engines with: ``$JAVA_HOME/bin/java`` if set and present, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    found = shutil.which("java")
    if not found:
        raise EmulatorError(f"Java 17 or later was not found (no `java` on PATH): {SETUP_HINT}")
    return found


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for source in sorted(SOURCES.glob("*.java")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def java_tools(build_dir: Path = BUILD_DIR) -> JavaTools:
    """The helpers, built now if missing or stale (needs ``javac`` and ``jar`` from a JDK 17+)."""
    tools = JavaTools(build_dir / "lab-engines.jar", build_dir / "ddb-local-loader-0.1.jar")
    stamp = build_dir / "sources.sha256"
    want = _sources_digest()
    if stamp.is_file() and stamp.read_text() == want and tools.launcher_jar.is_file() and tools.agent_jar.is_file():
        return tools
    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar:
        raise EmulatorError(f"the JDK's javac and jar are needed to build the lab's Java helpers: {SETUP_HINT}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=build_dir, prefix=".build-") as work:
        classes = Path(work, "classes")
        _run([javac, "--release", "17", "-d", str(classes), *map(str, sorted(SOURCES.glob("*.java")))])
        manifest = Path(work, "agent.mf")
        manifest.write_text(f"Premain-Class: {AGENT_CLASS}\n")
        launcher_classes = [p.name for p in classes.glob(f"{LAUNCHER_CLASS}*.class")]
        _run([jar, "cf", str(Path(work, tools.launcher_jar.name)), "-C", str(classes), *launcher_classes])
        _run([jar, "cfm", str(Path(work, tools.agent_jar.name)), str(manifest), "-C", str(classes),
              f"{AGENT_CLASS}.class"])
        for built in (tools.launcher_jar, tools.agent_jar):
            os.replace(Path(work, built.name), built)
        Path(work, "stamp").write_text(want)
        os.replace(Path(work, "stamp"), stamp)
    return tools


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmulatorError(f"building the lab's Java helpers failed ({detail[-1] if detail else 'no output'}): "
                            f"{SETUP_HINT}")


if __name__ == "__main__":
    try:
        built = java_tools()
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"built {built.launcher_jar.name} and {built.agent_jar.name} in {built.launcher_jar.parent}")
