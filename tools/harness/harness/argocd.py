"""A real Argo CD beside the harness's cluster: its application-controller and repo-server as
processes on loopback (one binary, built by tools/binaries/build.sh argocd), a redis-server for
its cache, Argo CD's own CRDs and settings objects from its module's ``manifests/``, and a git
repository on this machine (``file://``) holding the checkout's ``deploy/`` and ``crds/`` at the
commits a test makes. No argocd-server: the tests read what Argo CD decided from the
Application's status and, for the resource tree, from the controller's cache in redis.

Facts this follows: ../shared/notes/argocd-facts.md (the wrapper scripts on PATH, the labels
the settings informer needs, ``ARGOCD_FAKE_IN_CLUSTER`` for the in-cluster destination).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Self

import yaml

from harness import binaries, documented
from harness.kube import Cluster
from harness.ports import LOOPBACK, free_port, port_open
from harness.process import Process, log_tail
from harness.redis import RedisServer
from harness.repo import REPO
from harness.waiting import eventually

NAMESPACE = "argocd"
GITOPS_DOC = REPO / "docs" / "gitops.md"
OPERATOR_APP, DEMO_APP = "taskapi-operator", "taskapi-demo"  # deploy/argocd's Applications
APPLICATIONS = (OPERATOR_APP, DEMO_APP)
# settings of Argo CD's own in argocd-cm, set before the README's server-side apply of the
# health key: that apply must leave them as they are
SETTINGS_OBJECTS = ("argocd-cm", "argocd-rbac-cm", "argocd-secret", "argocd-cmd-params-cm")
OTHER_SETTINGS = {"admin.enabled": "false", "statusbadge.enabled": "true"}
# what the repository holds: the paths the README's Applications point at, and what they use
TRACKED = ("deploy", "crds")


class GitRepo:
    """A git repository on this machine holding a copy of the checkout's deploy/ and crds/ on
    branch ``main``; ``commit`` records what a test changed, as a user's push would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"file://{path}"

    def init(self) -> Self:
        self.path.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")
        for name in TRACKED:
            shutil.copytree(REPO / name, self.path / name, ignore=shutil.ignore_patterns("*.pyc"))
        return self.commit("the checkout's deploy/ and crds/")

    def _git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "taskapi tests",
            "GIT_AUTHOR_EMAIL": "tests@taskapi.invalid",
            "GIT_COMMITTER_NAME": "taskapi tests",
            "GIT_COMMITTER_EMAIL": "tests@taskapi.invalid",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        result = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {result.stderr}")
        return result.stdout.strip()

    def commit(self, message: str) -> Self:
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "-m", message)
        return self

    @property
    def head(self) -> str:
        return self._git("rev-parse", "HEAD")

    def edit_yaml(self, relative: str, edit: Any) -> None:
        """Load every document of a file, let ``edit`` change them in place, write them back."""
        path = self.path / relative
        docs = list(yaml.safe_load_all(path.read_text()))
        edit(docs)
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


class ArgoCD:
    """Argo CD's application-controller and repo-server against ``cluster`` (its admin
    kubeconfig: the in-cluster destination ``https://kubernetes.default.svc``)."""

    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.home = binaries.build_dir("argocd")
        self.binary = self.home / "argocd"
        # the repo-server runs `kustomize` from PATH: this one first
        self.kustomize_dir = binaries.find("kustomize").parent
        self.repo = GitRepo(workdir / "repo")
        self.redis = RedisServer(workdir / "redis")
        self.processes: list[Process] = []
        self._stack = ExitStack()
        # what docs/gitops.md's Install showed (set by readme_install's caller)
        self.install_health: list[str] = []
        self.install_seconds = 0.0

    def start(self, *, resync_seconds: int = 10) -> Self:
        try:
            self.repo.init()
            self._stack.enter_context(self.redis)
            self._install_objects()
            self._start_repo_server()
            self._start_controller(resync_seconds)
        except BaseException:
            self.stop()
            raise
        return self

    def version(self) -> str:
        out = subprocess.run(
            [str(self.binary), "version", "--client", "--short"],
            capture_output=True,
            text=True,
            env={**os.environ, "ARGOCD_BINARY_NAME": "argocd"},
            check=True,
        ).stdout
        return out.strip()

    def _install_objects(self) -> None:
        """Argo CD's CRDs (server-side: they are large), its namespace, its settings objects as
        its install manifests create them (client-side apply, as ``kubectl apply -n argocd -f
        install.yaml`` does) and the ``default`` AppProject argocd-server would create."""
        self.cluster.kubectl("apply", "--server-side", "-k", str(self.home / "manifests" / "crds"))
        self.cluster.wait_established(
            ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"]
        )
        self.cluster.kubectl("create", "namespace", NAMESPACE)
        config = self.home / "manifests" / "config"
        files = [f"--filename={config / name}.yaml" for name in SETTINGS_OBJECTS]
        self.cluster.kubectl("apply", "-n", NAMESPACE, *files)
        project = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": NAMESPACE},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
        self.cluster.apply_yaml(yaml.safe_dump(project), NAMESPACE)

    def _env(self, binary_name: str) -> dict[str, str]:
        path = os.pathsep.join(
            [str(self.home / "scripts"), str(self.kustomize_dir), os.environ.get("PATH", "")]
        )
        return {
            **self.cluster.env,
            "PATH": path,
            "HOME": str(self.workdir / "home"),
            "ARGOCD_BINARY_NAME": binary_name,
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_TLS_DATA_PATH": str(self.workdir / "tls"),
            "ARGOCD_SSH_DATA_PATH": str(self.workdir / "ssh"),
            "ARGOCD_GNUPGHOME": str(self.workdir / "gnupg"),
            "GIT_CONFIG_GLOBAL": os.devnull,
        }

    def _start_repo_server(self) -> None:
        for name in ("home", "tls", "ssh", "gnupg", "repos"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        self.repo_server_port = free_port()
        metrics = free_port()
        argv = [str(self.binary), "--address", LOOPBACK, "--port", str(self.repo_server_port)]
        argv += ["--metrics-address", LOOPBACK, "--metrics-port", str(metrics)]
        argv += ["--disable-tls", "--client-ca-path", "", "--redis", self.redis.address]
        argv += ["--redis-compress", "none", "--loglevel", "info"]
        env = {**self._env("argocd-repo-server"), "TMPDIR": str(self.workdir / "repos")}
        proc = Process("argocd-repo-server", argv, self.workdir / "repo-server.log", env=env)
        self._run(proc, lambda: port_open(LOOPBACK, self.repo_server_port), 60)

    def _start_controller(self, resync_seconds: int) -> None:
        argv = [str(self.binary), "--kubeconfig", str(self.cluster.kubeconfig)]
        argv += ["--namespace", NAMESPACE, "--redis", self.redis.address]
        argv += ["--redis-compress", "none"]
        argv += ["--repo-server", f"{LOOPBACK}:{self.repo_server_port}", "--repo-server-plaintext"]
        argv += ["--app-resync", str(resync_seconds), "--app-resync-jitter", "0"]
        argv += ["--persist-resource-health", "--loglevel", "info"]
        # its metrics listener takes no address flag (it binds every address of this machine,
        # on a free port; nothing dials it)
        argv += ["--metrics-port", str(free_port())]
        env = self._env("argocd-application-controller")
        proc = Process(
            "argocd-application-controller", argv, self.workdir / "controller.log", env=env
        )
        self._run(proc, lambda: "Starting" in self.controller_log(), 60)

    def _run(self, proc: Process, ready: Any, timeout: float) -> None:
        proc.start()
        self.processes.append(proc)
        self._stack.callback(proc.stop)
        proc.wait_until(ready, timeout, "started")

    def controller_log(self) -> str:
        path = self.workdir / "controller.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def application(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.cluster.get_json("application", name, "-n", NAMESPACE)
        return found

    def refresh(self, name: str) -> None:
        """Ask for a fresh comparison now (what ``argocd app get --refresh`` does)."""
        self.cluster.kubectl(
            "annotate", "application", name, "-n", NAMESPACE,
            "argocd.argoproj.io/refresh=normal", "--overwrite",
        )  # fmt: skip

    def resource_tree(self, name: str) -> list[dict[str, Any]]:
        """The nodes of the Application's resource tree, as the controller cached them for the
        UI (what ``argocd app resources`` lists), children found by ownerReferences included."""
        cli = ["redis-cli", "-h", self.redis.host, "-p", str(self.redis.port), "--raw"]

        def redis(*args: str) -> str:
            return subprocess.run(
                [*cli, *args], capture_output=True, text=True, check=True
            ).stdout.strip()

        # keys end in Argo CD's cache version (|1.8.3); a large tree is split in shards (|N|)
        nodes: list[dict[str, Any]] = []
        for key in redis("KEYS", f"app|resources-tree|{name}|*").splitlines():
            nodes += json.loads(redis("GET", key) or "{}").get("nodes") or []
        return nodes

    def explain(self) -> str:
        parts = []
        for proc in self.processes:
            parts.append(f"--- {proc.name} (last lines)\n{log_tail(proc.log_path, 30)}")
        result = self.cluster.kubectl(
            "get", "applications", "-n", NAMESPACE, "-o", "yaml", check=False
        )
        parts.append(f"$ kubectl get applications -n argocd -o yaml\n{result.stdout[-6000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        self._stack.close()
        self.processes.clear()

    # --- what Argo CD decided, read from the Application

    def resource(self, app: str, kind: str, name: str) -> dict[str, Any] | None:
        """The Application's entry for one of its resources (sync status, health)."""
        for entry in self.application(app).get("status", {}).get("resources") or []:
            if entry.get("kind") == kind and entry.get("name") == name:
                found: dict[str, Any] = entry
                return found
        return None

    def summary(self, app: str) -> str:
        status = self.application(app).get("status") or {}
        health = status.get("health") or {}
        phase = (status.get("operationState") or {}).get("phase", "-")
        revision = (status.get("sync") or {}).get("revision", "")[:8]
        return (
            f"{app}: sync {status.get('sync', {}).get('status')} at {revision}, "
            f"health {health.get('status')}, last operation {phase}"
        )

    def wait_synced(self, app: str, revision: str | None = None, timeout: float = 240) -> None:
        """Synced (at ``revision`` when given) and Healthy, the last sync Succeeded."""

        def done() -> bool:
            status = self.application(app).get("status") or {}
            sync = status.get("sync") or {}
            return (
                sync.get("status") == "Synced"
                and (revision is None or sync.get("revision") == revision)
                and (status.get("health") or {}).get("status") == "Healthy"
                and (status.get("operationState") or {}).get("phase") in (None, "Succeeded")
            )

        what = f"Application {app} Synced{' at ' + revision[:8] if revision else ''} and Healthy"
        eventually(done, timeout, what, interval=1, explain=self.explain)

    def set_tracking(self, method: str, stamped: dict[str, tuple[str, ...]]) -> None:
        """Switch ``application.resourceTrackingMethod`` (``annotation`` or ``label``) and wait
        until each Application in ``stamped`` has re-stamped the resource named by its
        ``kubectl get`` arguments the new way, and is Synced again. (Argo CD 3.6 re-stamps
        resources by itself on a switch to label tracking, not on a switch back to annotation
        tracking: then only a sync does.)"""
        patch = json.dumps({"data": {"application.resourceTrackingMethod": method}})
        self.cluster.kubectl("patch", "configmap", "argocd-cm", "-n", NAMESPACE, "-p", patch)
        for app in APPLICATIONS:
            self.refresh(app)
        for app, target in stamped.items():
            what = f"{target[0]} {target[1]} tracked by {method} for Application {app}"
            eventually(lambda: tracked_by(self.cluster.get_json(*target), method) == app,  # noqa: B023
                       120, what, interval=1, explain=self.explain)  # fmt: skip
            self.wait_synced(app)

    def sync(self, app: str, timeout: float = 240) -> None:
        """A full sync now, as ``argocd app sync`` asks for one (an ``operation`` on the
        Application, with its own sync options): every resource applied again, stamped by the
        current tracking method, whether it differed or not. Waits for it to succeed."""
        found = self.application(app)
        before = ((found.get("status") or {}).get("operationState") or {}).get("startedAt")
        options = (found["spec"].get("syncPolicy") or {}).get("syncOptions") or []
        operation = {
            "initiatedBy": {"username": "taskapi-tests"},
            "sync": {"revision": found["spec"]["source"]["targetRevision"], "prune": True,
                     "syncOptions": options},
        }  # fmt: skip
        self.cluster.kubectl("patch", "application", app, "-n", NAMESPACE, "--type", "merge",
                             "-p", json.dumps({"operation": operation}))  # fmt: skip

        def done() -> bool:
            state = (self.application(app).get("status") or {}).get("operationState") or {}
            ours = (state.get("operation") or {}).get("initiatedBy", {}).get("username")
            return bool(
                ours == "taskapi-tests"
                and state.get("startedAt") != before
                and state.get("phase") == "Succeeded"
            )

        eventually(done, timeout, f"a full sync of {app}", interval=1, explain=self.explain)

    def push(self, message: str) -> str:
        """Commit what the test changed in the repository and have Argo CD look now (a
        webhook's job on a real Git server); returns the new revision."""
        self.repo.commit(message)
        for app in APPLICATIONS:
            self.refresh(app)
        return self.repo.head


def tracked_by(obj: dict[str, Any], method: str) -> str:
    """The Application ``obj`` belongs to by Argo CD's ``method`` of tracking ("" for none):
    the ``app.kubernetes.io/instance`` label, or the ``argocd.argoproj.io/tracking-id``
    annotation (``<app>:<group>/<kind>:<namespace>/<name>``)."""
    meta = obj["metadata"]
    if method == "label":
        return str((meta.get("labels") or {}).get("app.kubernetes.io/instance", ""))
    tracking_id = str((meta.get("annotations") or {}).get("argocd.argoproj.io/tracking-id", ""))
    return tracking_id.split(":", 1)[0]


class HealthWatch:
    """Every health Argo CD published for one resource of an Application, in order (a poll of
    the status every half second: the controller writes it once per reconciliation)."""

    def __init__(self, argo: ArgoCD, app: str, kind: str, name: str) -> None:
        self._argo, self._app, self._kind, self._name = argo, app, kind, name
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        try:
            entry = self._argo.resource(self._app, self._kind, self._name)
        except Exception:  # a kubectl hiccup: the next poll reads it
            return
        health = (entry or {}).get("health") or {}
        if health.get("status"):
            line = f"{health['status']} ({health.get('message', '')[:60]})"
            if not self.seen or self.seen[-1].split(" ")[0] != health["status"]:
                self.seen.append(line)

    @property
    def statuses(self) -> list[str]:
        return [line.split(" ")[0] for line in self.seen]

    def close(self) -> list[str]:
        """Stop, after one last reading: what the test waited for (Healthy, say) was published
        before the close, but perhaps after the last poll."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()
        return self.seen


def readme_install(argo: ArgoCD, taskapi: str) -> tuple[list[str], float]:
    """docs/gitops.md's Install as written, from the repository's clone, ``repoURL`` pointed
    at it (the doc's "changed to your fork"); Argo CD's other argocd-cm keys set first, as a
    user's Argo CD has some. Returns the TaskApi's health as Argo CD published it meanwhile and
    the seconds to both Applications Synced and Healthy."""
    for name in ("application-operator.yaml", "application-sample.yaml"):
        argo.repo.edit_yaml(
            f"deploy/argocd/{name}",
            lambda docs: docs[0]["spec"]["source"].update(repoURL=argo.repo.url),
        )
    argo.repo.commit("deploy/argocd: repoURL is this machine's repository")
    patch = json.dumps({"data": OTHER_SETTINGS})
    argo.cluster.kubectl("patch", "configmap", "argocd-cm", "-n", NAMESPACE, "-p", patch)
    began = time.monotonic()
    watch = HealthWatch(argo, DEMO_APP, "TaskApi", taskapi)
    try:
        for argv in documented.bash_block(GITOPS_DOC, "## Install"):
            documented.run(argo.cluster, argv, cwd=argo.repo.path)
        for app in APPLICATIONS:
            argo.wait_synced(app, argo.repo.head)
    finally:
        seen = watch.close()
    return seen, time.monotonic() - began
