"""A throwaway PostgreSQL server (Debian's package) on a free loopback port.

initdb into a fresh directory, trust authentication for one local user, TCP on 127.0.0.1
only and the unix socket inside the data directory (never /var/run/postgresql, so it cannot
collide with a system cluster or another run). Durability is traded for speed (fsync off),
as redis-server runs without persistence in the harness: data lives as long as the server.

PostgreSQL refuses to run as root. Under root (CI containers) the server runs as the
``postgres`` user Debian's package creates, in a directory that user owns: pytest's tmp
directories are private to root, so that directory is a separate temp dir, removed on stop.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import yaml

from harness.lifecycle import Started
from harness.ports import LOOPBACK, free_port
from harness.process import Process

# Fast shutdown (SIGINT) aborts open sessions, which a sidecar may still hold; the smart
# shutdown SIGTERM would wait for them.
_STOP_SECONDS = 20
_RUN_AS = "postgres"


class PostgresNotInstalledError(RuntimeError):
    """No PostgreSQL server binaries: scripts/setup.sh installs Debian's postgresql."""


def bin_dir() -> Path:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    override = os.environ.get("TASKAPI_POSTGRES_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    if found is None:
        raise PostgresNotInstalledError("PostgreSQL server not installed; run scripts/setup.sh")
    return Path(found).parent


class PostgresServer(Started):
    """One server with one database, ``user`` trusted on loopback (no password)."""

    def __init__(
        self,
        workdir: Path,
        *,
        host: str = LOOPBACK,
        user: str = "taskapi",
        database: str = "taskapi",
        settings: dict[str, str] | None = None,
    ) -> None:
        """``settings``: further server settings (``-c name=value``), e.g. to load
        pg_stat_statements for a profile."""
        self.workdir = workdir
        self.settings = dict(settings or {})
        self.host = host
        self.port = free_port(host)
        self.user = user
        self.database = database
        self._bin = bin_dir()
        self._run_as_root = os.geteuid() == 0
        self._datadir: Path | None = None
        self._owned_tmp: Path | None = None
        self._proc: Process | None = None

    # -- connection details -------------------------------------------------------------
    def connection_string(self, database: str | None = None) -> str:
        """A libpq key/value string, the form Dapr's ``connectionString`` metadata takes."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"dbname={database or self.database} sslmode=disable connect_timeout=5"
        )

    def statestore_component(
        self,
        *,
        name: str = "statestore",
        database: str | None = None,
        table_prefix: str | None = None,
        extra_metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Dapr Component document for ``state.postgresql`` v2 on this server.

        ``table_prefix`` gives a stack its own tables (``state_table(prefix)`` names the
        state table) on a shared server; Dapr's keys carry the app id too, so sharing the
        default table is also safe. ``extra_metadata`` adds e.g. ``outboxPublishPubsub``.
        """
        metadata = [{"name": "connectionString", "value": self.connection_string(database)}]
        if table_prefix is not None:
            metadata.append({"name": "tablePrefix", "value": table_prefix})
            metadata.append({"name": "metadataTableName", "value": f"{table_prefix}metadata"})
        metadata += [{"name": k, "value": v} for k, v in (extra_metadata or {}).items()]
        return {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {"type": "state.postgresql", "version": "v2", "metadata": metadata},
        }

    @staticmethod
    def state_table(table_prefix: str = "") -> str:
        """The v2 component's state table (columns key, value bytea, etag, ...)."""
        return f"{table_prefix}state"

    def write_statestore(self, path: Path, **kwargs: Any) -> Path:
        """Write :meth:`statestore_component` to ``path`` (a resources directory file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.statestore_component(**kwargs), sort_keys=False))
        return path

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._run_as_root:
            self._owned_tmp = Path(tempfile.mkdtemp(prefix="taskapi-pg-"))
            account = pwd.getpwnam(_RUN_AS)
            os.chown(self._owned_tmp, account.pw_uid, account.pw_gid)
            self._datadir = self._owned_tmp / "data"
        else:
            self._datadir = self.workdir / "data"
        self._run(
            [
                self._bin / "initdb",
                "-D",
                self._datadir,
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
        self._proc = Process(
            "postgres",
            self._as_owner(
                [
                    self._bin / "postgres",
                    "-D",
                    self._datadir,
                    "-c",
                    f"listen_addresses={self.host}",
                    "-p",
                    str(self.port),
                    "-c",
                    f"unix_socket_directories={self._datadir}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "log_min_messages=warning",
                    *(a for k, v in self.settings.items() for a in ("-c", f"{k}={v}")),
                ]
            ),
            self.workdir / "postgres.log",
            cwd=self._datadir.parent,
        ).start()
        self._proc.wait_until(self._ready, 60, "accepting connections")
        self.sql(f'CREATE DATABASE "{self.database}"', database="postgres")
        return self

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; returns its connection string."""
        self.sql(f'CREATE DATABASE "{name}"', database="postgres")
        return self.connection_string(name)

    def sql(self, statement: str, *, database: str | None = None) -> str:
        """Run one statement with psql over TCP; unaligned, tuples-only output (for tests)."""
        result = subprocess.run(
            [
                str(self._bin / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                *self._client_args(database or self.database),
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.running():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
            proc.stop(timeout=_STOP_SECONDS)  # waits for the fast shutdown, SIGKILL after
        if self._owned_tmp is not None:
            shutil.rmtree(self._owned_tmp, ignore_errors=True)
            self._owned_tmp = None

    # -- internals ----------------------------------------------------------------------
    def _ready(self) -> bool:
        result = subprocess.run(
            [
                str(self._bin / "pg_isready"),
                "-q",
                *self._client_args("postgres"),
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    def _client_args(self, database: str) -> list[str]:
        """psql's and pg_isready's way to this server, as this user, to ``database``."""
        return ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database]

    def _as_owner(self, argv: Sequence[str | os.PathLike[str]]) -> list[str]:
        """argv, run as the ``postgres`` account when we are root (PostgreSQL refuses root)."""
        args = [str(a) for a in argv]
        if not self._run_as_root:
            return args
        return ["setpriv", f"--reuid={_RUN_AS}", f"--regid={_RUN_AS}", "--init-groups", *args]

    def _run(self, argv: Sequence[str | os.PathLike[str]]) -> None:
        log = self.workdir / "initdb.log"
        with log.open("ab") as out:
            result = subprocess.run(
                self._as_owner(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
                cwd=self._datadir.parent if self._datadir else None,
            )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}); log {log}")
