#!/usr/bin/env bash
# The lab's two entry points (see README, Quick start):
#   ./lab.sh app    install what the app needs and open it on the embedded target
#   ./lab.sh test   install what the tests need and run the whole suite (ruff, mypy --strict, pytest)
# Also: ./lab.sh setup [dev]  (install only). Needs Python 3.11+; everything else (Node, dynalite, chromium for
# the browser test) is installed from PyPI, npm and Debian packages by this script. Set PYTHON to pick an interpreter.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${LAB_VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {  # apt_install PACKAGE...: Debian/Ubuntu packages, installed once
  command -v apt-get >/dev/null || { echo "lab.sh: please install: $*" >&2; return 1; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || { echo "lab.sh: Python 3.11+ is needed (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" 2>/dev/null || { rm -rf "$VENV"; apt_install python3-venv && "$PYTHON" -m venv "$VENV"; }
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

case "${1:-}" in
  setup)
    ensure_venv; install "requirements${2:+-dev}.txt" ;;
  app)
    ensure_venv; install requirements.txt
    exec "$VENV/bin/python" -m streamlit run streamlit_app.py ;;
  test)
    ensure_venv; install requirements-dev.txt; ensure_chromium
    "$VENV/bin/python" -m ruff check .
    "$VENV/bin/python" -m mypy --strict core
    exec "$VENV/bin/python" -m pytest "${@:2}" ;;
  *)
    echo "usage: ./lab.sh app | test [pytest args] | setup [dev]" >&2; exit 2 ;;
esac
