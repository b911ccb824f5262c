"""Cluster numbers: each running cluster holds an exclusive lock on one number N for its whole
life, and derives from it every address it hands out (kwok's 127.N.0.0/16 pod CIDR, the real
node's 198.18.N.0/24 and 198.19.N.0/25), so concurrent runs on one machine never collide. A
number whose lock is free while something carries it was left behind by a killed run."""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path

NUMBERS = range(16, 251)
LOCKS = Path(os.environ.get("TMPDIR", "/tmp")) / "taskapi-harness-pod-cidrs"


def claim() -> tuple[int, int]:
    """(number, fd): the lock is held until ``os.close(fd)`` (or the process ends)."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    candidates = list(NUMBERS)
    random.shuffle(candidates)
    for n in candidates:
        fd = os.open(LOCKS / f"{n}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return n, fd
    raise RuntimeError(f"every cluster number is claimed by a running cluster ({LOCKS})")


def is_free(number: int) -> bool:
    """No running cluster holds ``number``'s lock."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCKS / f"{number}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases a lock taken just now
    return True
