"""Runs one engine command and makes sure it, and everything it starts, ends when the lab ends.

Run as a script by ``core.servers.lifecycle.LocalEngine`` (``python guard.py GRACE_SECONDS -- COMMAND...``, standard
library only), with its stdin a pipe from the lab. When stdin reaches end of file (the lab ended, however it died) or
on SIGTERM/SIGINT/SIGHUP, it SIGTERMs COMMAND's process group and the orphans it adopted, SIGKILLs what is left after
GRACE_SECONDS, and exits once nothing below it remains, with COMMAND's status (128 + signal for a signal).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the stdin pipe still ends the engine
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_guard() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (from /proc; empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _reap(child: subprocess.Popen[bytes]) -> None:
    """Collect the command (keeping its status) and any adopted orphan that has ended."""
    child.poll()
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)


def stop_all(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the command's group; once the command has ended, SIGTERM what it left (processes it started in
    sessions of their own, like LocalStack's Java, which this subreaper has adopted); SIGKILL everything still
    there after ``grace`` seconds; return once nothing is left below the guard (or 10 s after SIGKILL)."""
    me = os.getpid()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    orphans_told = False
    killed_at: float | None = None
    while True:
        _reap(child)
        left = _descendants(me)
        if not left:
            return
        now = time.monotonic()
        if child.returncode is not None and not orphans_told:
            orphans_told = True
            _signal(left, signal.SIGTERM)
        if killed_at is None and now >= deadline:
            killed_at = now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            _signal(left, signal.SIGKILL)
        elif killed_at is not None:
            if now - killed_at > 10:
                return
            _signal(left, signal.SIGKILL)
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: guard.py GRACE_SECONDS -- COMMAND...", file=sys.stderr)
        return 2
    grace = float(argv[0])
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)

    def wake(_signum: int, _frame: object) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(wake_write, b"x")

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, wake)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        child = subprocess.Popen(argv[2:], stdin=subprocess.DEVNULL, process_group=0,
                                 preexec_fn=_die_with_guard)
    except OSError as error:
        print(f'{{"error": "EXEC_FAILED", "message": "{error.strerror}: {argv[2]}"}}', flush=True)
        return 127
    watched = [sys.stdin.fileno(), wake_read]
    while child.poll() is None:
        ready, _, _ = select.select(watched, [], [], 0.5)
        if wake_read in ready:
            break
        if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 4096):
            break
    stop_all(child, grace)
    status = child.wait()
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
