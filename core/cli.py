"""The command line: ``python -m core emulator`` (and, later, ``run``).

Contract: ``main(argv)`` returns the exit code; bad input prints one line on stderr and returns 2; no traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from core.emulator import Emulator
from core.errors import ConfigError, LabError


def _emulator(args: argparse.Namespace) -> int:
    emulator = Emulator(port=args.port, host=args.host)
    emulator.start()
    print(f"Embedded DynamoDB (dynalite) at {emulator.endpoint_url}  pid {emulator.pid}  (Ctrl-C stops it)",
          flush=True)
    print(f"  aws dynamodb list-tables --endpoint-url {emulator.endpoint_url} --region us-east-1", flush=True)
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        emulator.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="The DynamoDB write-concurrency lab.")
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser("emulator", help="run the embedded DynamoDB (dynalite) in the foreground")
    emulator.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulator.set_defaults(handler=_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
