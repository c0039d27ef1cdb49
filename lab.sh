#!/usr/bin/env bash
# The lab's two entry points (see README, Quick start, and docs/setup.md):
#   ./lab.sh app    install what the app needs and open it on the embedded target
#   ./lab.sh test   install what the tests need and run the whole suite (ruff, mypy --strict,
#                   lint-imports, pytest); `./lab.sh test fast`: ruff and the unit tests only
#   ./lab.sh localstack [--port 4566]   run LocalStack's DynamoDB in the foreground without Docker (127.0.0.1)
# Also: ./lab.sh setup [dev|engines]  (install only; `engines`: Java, LocalStack's venv and the lab's Java helpers,
# which `setup dev` and `test` include). Needs Python 3.11+ (3.12+ for the official async AWS SDK's approaches, and a
# Python 3.13 for LocalStack); everything else (Node, dynalite, DynamoDB Local, Java, chromium for the browser test)
# is installed from PyPI, npm and Debian packages by this script. The interpreter is the newest CPython >= 3.12 found
# (see pick_python), else python3; set PYTHON to pick one yourself (e.g. PYTHON=python3.11), LOCALSTACK_PYTHON to
# pick the 3.13 LocalStack runs on.
set -euo pipefail
cd "$(dirname "$0")"

python_version() {  # python_version PYTHON: "3 13" for a CPython 3.11+ that really runs (a pyenv shim may not)
  "$1" -c 'import platform, sys
ok = platform.python_implementation() == "CPython" and sys.version_info >= (3, 11)
print(*sys.version_info[:2]) if ok else sys.exit(1)' 2>/dev/null
}

pick_python() {  # the newest CPython >= 3.12 on PATH or in ~/.pyenv/versions that runs, else python3
  local best=python3 best_version=0 candidate version major minor
  for candidate in $(compgen -c python3 | sort -u) "$HOME"/.pyenv/versions/*/bin/python3*; do
    [[ "${candidate##*/}" =~ ^python3(\.[0-9]+)?$ ]] || continue
    version=$(python_version "$candidate") || continue
    read -r major minor <<< "$version"
    if (( major * 100 + minor >= 312 && major * 100 + minor > best_version )); then
      best=$candidate best_version=$((major * 100 + minor))
    fi
  done
  echo "$best"
}

PYTHON=${PYTHON:-$(pick_python)}
VENV=${LAB_VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {  # apt_install PACKAGE...: Debian/Ubuntu packages, installed once
  command -v apt-get >/dev/null || { echo "lab.sh: please install: $*" >&2; return 1; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  python_version "$PYTHON" >/dev/null \
    || { echo "lab.sh: CPython 3.11+ is needed (set PYTHON=/path/to/python3.12)" >&2; exit 2; }
  if [ ! -x "$VENV/bin/python" ]; then
    echo "lab.sh: creating $VENV with $PYTHON (Python $(python_version "$PYTHON" | tr ' ' .))" >&2
    "$PYTHON" -m venv "$VENV" 2>/dev/null || { rm -rf "$VENV"; apt_install python3-venv && "$PYTHON" -m venv "$VENV"; }
  fi
  local have
  have=$(python_version "$VENV/bin/python" || echo "0 0")
  if [ "${have/ /.}" != "$(python_version "$PYTHON" | tr ' ' .)" ]; then
    echo "lab.sh: $VENV runs Python ${have/ /.}, not $PYTHON's; remove $VENV (or set LAB_VENV) to rebuild it" >&2
  fi
}

install() {  # install REQUIREMENTS_FILE: pip and npm, skipped when nothing changed since the last install
  local stamp="$VENV/.installed-$1" want
  want=$(cat "$1" requirements.txt package-lock.json | sha256sum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -d node_modules/dynalite ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$1"
    PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/npm" ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {  # the browser test drives Debian's chromium through playwright (never `playwright install`)
  [ -x /usr/bin/chromium ] || apt_install chromium || echo "lab.sh: chromium missing; browser tests will skip" >&2
}

java_ok() {  # java, javac and jar on PATH, and Java 17 or newer
  command -v javac >/dev/null && command -v jar >/dev/null || return 1
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$major" ] && [ "$major" -ge 17 ]
}

ensure_java() {  # DynamoDB Local runs on Java 17+; javac/jar build the lab's two small helpers (core/servers/java)
  java_ok && return 0
  { apt_install openjdk-17-jdk-headless || apt_install default-jre-headless default-jdk-headless; } && java_ok \
    || { echo "lab.sh: Java 17+ (JRE and JDK) is needed for DynamoDB Local and LocalStack" >&2; return 1; }
}

python313() {  # a working Python 3.13 for LocalStack: LOCALSTACK_PYTHON, PATH, then pyenv's installs
  local candidate
  for candidate in ${LOCALSTACK_PYTHON:-} python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

install_localstack() {  # .venv-localstack from the frozen requirements-localstack.txt, skipped when unchanged
  local venv=.venv-localstack python want
  want=$(sha256sum < requirements-localstack.txt)
  [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$want" ] && return 0
  python=$(python313) || { echo "lab.sh: LocalStack needs Python 3.13 (3.11 and 3.12 fail); install one, or set" \
    "LOCALSTACK_PYTHON=/path/to/python3.13" >&2; return 1; }
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-localstack.txt
  echo "$want" > "$venv/.installed"
}

ensure_engines() {  # what the dynamodb-local and localstack targets need beyond `setup` (npm brings DynamoDB Local)
  local python="$PYTHON"; [ -x "$VENV/bin/python" ] && python="$VENV/bin/python"
  ensure_java && "$python" -m core.servers.java >/dev/null && install_localstack
}

soft_engines() {  # for setup dev and test: without Java 17 or a Python 3.13, the engines' tests skip with the reason
  ensure_engines || echo "lab.sh: DynamoDB Local / LocalStack are not fully installed; their tests will skip" >&2
}

case "${1:-}" in
  setup)
    case "${2:-}" in
      "") ensure_venv; install requirements.txt ;;
      dev) ensure_venv; install requirements-dev.txt; soft_engines ;;
      engines) ensure_engines ;;
      *) echo "usage: ./lab.sh setup [dev|engines]" >&2; exit 2 ;;
    esac ;;
  localstack)
    ensure_venv; install requirements.txt; ensure_engines
    exec "$VENV/bin/python" -m core.servers.localstack "${@:2}" ;;
  app)
    ensure_venv; install requirements.txt
    exec "$VENV/bin/python" -m streamlit run streamlit_app.py ;;
  test)
    ensure_venv; install requirements-dev.txt
    if [ "${2:-}" = fast ]; then  # the unit layer: pure tests, no server (under a minute)
      "$VENV/bin/python" -m ruff check .
      exec "$VENV/bin/python" -m pytest tests/unit -q "${@:3}"
    fi
    ensure_chromium; soft_engines
    "$VENV/bin/python" -m ruff check .
    "$VENV/bin/python" -m mypy --strict core streamlit_app.py bench tests
    "$VENV/bin/lint-imports"
    # three workers: most integration tests wait on servers, not on the two cores; see tests/conftest.py for the groups
    if [ $# -gt 1 ]; then exec "$VENV/bin/python" -m pytest -n 3 --dist loadgroup "${@:2}"; fi
    # the browser tests after the rest, alone: beside two other workers a rerun of the page can outlast their waits
    status=0
    "$VENV/bin/python" -m pytest -n 3 --dist loadgroup -m "not browser" || status=$?
    "$VENV/bin/python" -m pytest -m browser || status=$((status ? status : $?))
    exit "$status" ;;
  *)
    echo "usage: ./lab.sh app | test [fast] [pytest args] | localstack [--port N] | setup [dev|engines]" >&2; exit 2 ;;
esac
