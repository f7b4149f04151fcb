"""Run a runtime as a child in the launcher's own process group, and leave nothing behind.

The local backend starts each replica detached (its own process group) and ends it by signalling the group, so
the runtime and everything it forks (TorchServe's JVM and Python workers) stay in that group here: no new
session. On SIGTERM/SIGINT the launcher passes SIGTERM to the whole process tree under it, waits, SIGKILLs what
is left, removes its scratch directory and exits with the child's status.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Mapping, Sequence


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _signal_tree(root: int, signum: int) -> None:
    for pid in [root, *_descendants(root)]:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def run(command: Sequence[str], env: Mapping[str, str], cwd: str, scratch: str, grace_seconds: float = 10.0) -> None:
    child = subprocess.Popen(list(command), env=dict(env), cwd=cwd)
    stopping = {"at": 0.0}

    def stop(_signum: int, _frame: object) -> None:
        if not stopping["at"]:
            stopping["at"] = time.monotonic()
            _signal_tree(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if stopping["at"] and time.monotonic() - stopping["at"] > grace_seconds:
                _signal_tree(child.pid, signal.SIGKILL)
    for pid in _descendants(os.getpid()):  # orphans re-parented elsewhere are the group kill's job
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(code if code >= 0 else 128 - code)
