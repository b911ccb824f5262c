"""The demo on the real node: the operator, installed by its Helm chart as the README writes it
(two pods, one leader), manages the sample TaskApi whose pods a kubelet runs (this project's
image beside the injected daprd, Dapr installed by its chart), and the walkthrough goes through
``kubectl port-forward`` and ``kubectl logs`` as a person's would. demo.py picks this mode where
the machine allows it (root, namespaces, cgroups)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness import operator_chart
from harness.port_forward import PortForward
from harness.real_stack import NAMESPACE, TASKAPI, TASKAPI_SELECTOR, RealStack


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def show(text: str) -> None:
    for line in text.rstrip().splitlines():
        print(f"    {line}", flush=True)


def http(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - the port-forward on loopback
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:  # noqa: S310
            raw = resp.read()
            return (
                resp.status,
                {k.lower(): v for k, v in resp.headers.items()},
                json.loads(raw) if raw else None,
            )
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


def grep_logs(stack: RealStack, needle: str, task_id: str, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        out = stack.kubectl(
            "logs", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR, "-c", "taskapi", "--tail=-1"
        ).stdout
        lines = [line for line in out.splitlines() if needle in line and task_id in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(1)


def walkthrough(stack: RealStack) -> str:
    with PortForward(stack.cluster.kubeconfig, NAMESPACE, f"service/{TASKAPI}", 8000) as api:
        say(f"{api.command}: create, list, complete and delete a task")
        status, headers, task = http(
            "POST", f"{api.url}/tasks", {"title": "Write the demo", "priority": 2}
        )
        show(f"POST /tasks -> {status}, ETag {headers.get('etag')}: {json.dumps(task)}")
        task_id = str(task["id"])
        status, _, page = http("GET", f"{api.url}/tasks")
        show(f"GET /tasks -> {status}: {len(page['items'])} task(s)")
        status, _, done = http("PUT", f"{api.url}/tasks/{task_id}/status?status=completed")
        show(f"PUT /tasks/{task_id}/status?status=completed -> {status}: {done['status']}")
        say(f'kubectl logs -n {NAMESPACE} -l {TASKAPI_SELECTOR} -c taskapi | grep "Received event"')
        show("\n".join(grep_logs(stack, "Received event", task_id)) or "(nothing yet)")
        say(f'kubectl logs -n {NAMESPACE} -l {TASKAPI_SELECTOR} -c taskapi | grep "Notification"')
        lines = grep_logs(stack, "Notification", task_id, timeout=90)
        if not lines:
            raise RuntimeError("no 'Notification sent' line in the Task API's logs within 90 s")
        show("\n".join(lines))
        status, _, _ = http("DELETE", f"{api.url}/tasks/{task_id}")
        show(f"DELETE /tasks/{task_id} -> {status}")
        return task_id


def print_try_this(stack: RealStack) -> None:
    kc = stack.cluster.kubeconfig
    say("try it yourself (Ctrl-C here stops everything):")
    show(f"""\
export KUBECONFIG={kc}
kubectl get taskapis,pods -n {NAMESPACE}
kubectl logs -n {NAMESPACE} -l {TASKAPI_SELECTOR} -c taskapi
kubectl logs -n {NAMESPACE} -l {TASKAPI_SELECTOR} -c daprd
kubectl port-forward -n {NAMESPACE} service/{TASKAPI} 18000:8000  # curl localhost:18000/tasks
kubectl exec -n {NAMESPACE} deploy/{TASKAPI} -c taskapi -- python3 -c 'print("hello from the pod")'
kubectl scale taskapi {TASKAPI} -n {NAMESPACE} --replicas=3
kubectl logs -n {operator_chart.NAMESPACE} deploy/taskapi-operator
kubectl get pods,lease -n {operator_chart.NAMESPACE}
kubectl get pods -n dapr-system
node logs (kubelet, containerd, kube-proxy): {stack.workdir}/cluster/node/logs/""")


def run(workdir: Path, exit_after_walkthrough: bool) -> int:
    stack = RealStack(workdir, operator_from_chart=True)
    shown = False
    try:
        stack.start(say=say)
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stack.phases.items())
        say(f"phases: {phases}")
        for namespace in (operator_chart.NAMESPACE, NAMESPACE):
            say(f"kubectl get pods -n {namespace}")
            show(stack.kubectl("get", "pods", "-n", namespace).stdout)
        say(f"kubectl get taskapis -n {NAMESPACE}")
        show(stack.kubectl("get", "taskapis", "-n", NAMESPACE).stdout)
        walkthrough(stack)
        shown = True
        print_try_this(stack)
        if exit_after_walkthrough:
            say("--exit-after-walkthrough: stopping everything")
            return 0
        while True:  # the kubelet keeps the operator running; Ctrl-C ends the demo
            time.sleep(1)
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        return 0 if shown else 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stack.stop()
