"""daprd in self-hosted mode for one app, every port and listen address on loopback.

Two apps on one host find each other through SQLite name resolution (a Configuration
shared by their sidecars); mDNS is neither configured nor compiled into our daprd.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import yaml

from harness import binaries
from harness.lifecycle import Started
from harness.ports import LOOPBACK, free_port
from harness.process import Process


def write_configuration(path: Path, name_db: Path, *, name: str = "daprconfig") -> Path:
    """A Dapr Configuration with SQLite name resolution (shared by every local sidecar)."""
    doc = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Configuration",
        "metadata": {"name": name},
        "spec": {
            "nameResolution": {
                "component": "sqlite",
                "version": "v1",
                "configuration": {"connectionString": str(name_db)},
            },
            "metric": {"enabled": False},
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Daprd(Started):
    """One sidecar. ``listen_ip`` may be any 127.x address (e.g. a kwok pod IP)."""

    def __init__(
        self,
        app_id: str,
        app_port: int | None,
        resources_dir: Path,
        workdir: Path,
        *,
        config: Path | None = None,
        listen_ip: str = LOOPBACK,
        app_ip: str = LOOPBACK,
        public_port: int | None = None,
        http_port: int | None = None,
        grpc_port: int | None = None,
        env: dict[str, str] | None = None,
        log_level: str = "info",
    ) -> None:
        self.app_id = app_id
        self.app_port = app_port
        self.resources_dir = resources_dir
        self.workdir = workdir
        self.config = config
        self.listen_ip = listen_ip
        self.app_ip = app_ip
        self.http_port = http_port or free_port(listen_ip)
        self.grpc_port = grpc_port or free_port(listen_ip)
        self.internal_grpc_port = free_port(listen_ip)
        self.public_port = public_port or free_port(listen_ip)
        self.extra_env = env or {}
        self.log_level = log_level
        self._proc: Process | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.listen_ip}:{self.http_port}"

    @property
    def public_url(self) -> str:
        return f"http://{self.listen_ip}:{self.public_port}"

    def app_env(self) -> dict[str, str]:
        """Environment an app needs to reach this sidecar through the Dapr SDK."""
        return {
            "DAPR_HTTP_PORT": str(self.http_port),
            "DAPR_GRPC_PORT": str(self.grpc_port),
            "DAPR_RUNTIME_HOST": self.listen_ip,
        }

    def argv(self) -> list[str]:
        args = [
            str(binaries.find("daprd")),
            f"--app-id={self.app_id}",
            "--mode=standalone",
            f"--dapr-http-port={self.http_port}",
            f"--dapr-grpc-port={self.grpc_port}",
            f"--dapr-internal-grpc-port={self.internal_grpc_port}",
            f"--dapr-listen-addresses={self.listen_ip}",
            f"--dapr-internal-grpc-listen-address={self.listen_ip}",
            f"--dapr-public-port={self.public_port}",
            f"--dapr-public-listen-address={self.listen_ip}",
            "--enable-metrics=false",
            f"--metrics-listen-address={self.listen_ip}",
            f"--resources-path={self.resources_dir}",
            f"--log-level={self.log_level}",
            "--dapr-graceful-shutdown-seconds=1",
        ]
        if self.app_port is not None:
            args += [
                f"--app-port={self.app_port}",
                "--app-protocol=http",
                f"--app-channel-address={self.app_ip}",
            ]
        if self.config is not None:
            args.append(f"--config={self.config}")
        return args

    def start(self, wait: bool = True) -> Self:
        env = {**os.environ, "DAPR_HOST_IP": self.listen_ip, **self.extra_env}
        log = self.workdir / f"daprd-{self.app_id}.log"
        self._proc = Process(f"daprd[{self.app_id}]", self.argv(), log, env=env).start()
        if wait:
            self.wait_outbound()
        return self

    def wait_outbound(self, timeout: float = 60) -> None:
        """Ready to serve API calls (answers before the app itself is up)."""
        assert self._proc is not None
        self._proc.wait_until(
            lambda: _status(f"{self.http_url}/v1.0/healthz/outbound") == 204,
            timeout,
            "ready (/v1.0/healthz/outbound)",
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        """Fully healthy: the app channel is up and subscriptions are loaded."""
        assert self._proc is not None
        self._proc.wait_until(
            lambda: _status(f"{self.public_url}/v1.0/healthz") == 204,
            timeout,
            "healthy (/v1.0/healthz)",
        )

    def metadata(self) -> dict[str, Any]:
        """The sidecar's metadata API, as the operator's subscription probe reads it."""
        with urllib.request.urlopen(f"{self.public_url}/v1.0/metadata", timeout=5) as resp:  # noqa: S310
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def running(self) -> bool:
        return self._proc is not None and self._proc.running()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
