"""A throwaway redis-server (Debian's package) on a free loopback port, nothing persisted."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Self

from harness.lifecycle import Started
from harness.ports import LOOPBACK, free_port
from harness.process import Process


class RedisNotInstalledError(RuntimeError):
    """redis-server is missing: scripts/setup.sh installs it (apt-get install redis-server)."""


def ping(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class RedisServer(Started):
    def __init__(self, workdir: Path, host: str = LOOPBACK) -> None:
        self.workdir = workdir
        self.host = host
        self.port = free_port(host)
        self._proc: Process | None = None

    @property
    def address(self) -> str:
        """host:port, the form Dapr's redis components take as redisHost."""
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisNotInstalledError("redis-server not on PATH; run scripts/setup.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc = Process(
            "redis-server",
            [
                binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
            ],
            self.workdir / "redis.log",
        ).start()
        self._proc.wait_until(lambda: ping(self.host, self.port), 20, "answering PING")
        return self

    def command(self, *args: str) -> bytes:
        """Send one command in RESP and return the raw reply (for assertions in tests)."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(payload.encode())
            return sock.recv(1 << 20)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
