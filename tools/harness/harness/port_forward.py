"""``kubectl port-forward``, as a person reaches a Service of the real node from the host:
apiserver -> kubelet -> containerd's streaming server -> the pod, no ClusterIP involved."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.ports import LOOPBACK, free_port


class PortForward:
    """``with PortForward(kubeconfig, ns, "service/x", 8000) as pf: pf.url`` (loopback only)."""

    def __init__(self, kubeconfig: Path, namespace: str, target: str, port: int) -> None:
        self.local = free_port()
        self.argv = [
            "kubectl",
            f"--kubeconfig={kubeconfig}",
            "port-forward",
            "-n",
            namespace,
            f"--address={LOOPBACK}",
            target,
            f"{self.local}:{port}",
        ]
        self.url = f"http://{LOOPBACK}:{self.local}"
        self.command = f"kubectl port-forward -n {namespace} {target} {self.local}:{port}"
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30) -> Self:
        proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._proc = proc
        assert proc.stdout is not None
        stdout = proc.stdout
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not first or "Forwarding from" not in first[0]:
            self.close()
            raise RuntimeError(
                f"{self.command} did not start: {first[0] if first else 'no output'}"
            )
        # keep draining its output (a line per connection) so it never blocks on a full pipe
        threading.Thread(target=_drain, args=(stdout,), daemon=True).start()
        return self

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass
