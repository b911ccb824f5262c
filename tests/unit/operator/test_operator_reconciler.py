"""The reconciler against a fake API: create, up to date, drift, conflict, transient and
lasting errors, prune, pause, deletion, invalid spec and the requeue values it returns."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from fake_kube import World, failing
from operator_fixtures import sample_body

from taskapi_operator import names
from taskapi_operator.apply import waves
from taskapi_operator.builders import build_children
from taskapi_operator.errors import TransientError
from taskapi_operator.model import TaskApi
from taskapi_operator.workqueue import Result

CHILDREN = len(build_children(TaskApi.from_body(sample_body())))


def ready(world: World, key: tuple[str, str], replicas: int = 2) -> None:
    """The Deployment rolled out and its pods (app + daprd) ready, as the watches show it."""
    ns, name = key
    deployment = world.kube.objects[("deployments", ns, name)]
    deployment["status"] = {
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicas"}],
    }
    for i in range(replicas):
        world.kube.objects[("pods", ns, f"{name}-{i}")] = {
            "metadata": {
                "name": f"{name}-{i}",
                "namespace": ns,
                "labels": names.child_labels(name, names.COMPONENT_API),
            },
            "spec": {"containers": [{"name": "taskapi"}, {"name": "daprd"}]},
            "status": {
                "phase": "Running",
                "podIP": f"127.1.0.{i + 1}",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "taskapi", "ready": True},
                    {"name": "daprd", "ready": True},
                ],
            },
        }
    world.sync()


def foreign(world: World, plural: str, api_version: str, kind: str, name: str) -> None:
    """An object with a child's name that someone else made (no labels, no owner)."""
    meta = {"name": name, "namespace": "shop"}
    world.kube.put(plural, {"apiVersion": api_version, "kind": kind, "metadata": meta})


async def settled(world: World) -> tuple[str, str]:
    """A TaskApi whose children exist, cached, and whose status was published."""
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    world.sync()
    world.deliver(key)
    world.monotonic += 2.1  # past the pacing of a starting TaskApi's progress
    await world.reconciler.reconcile(key, True)  # the Deployment now seen: Available changes
    world.deliver(key)
    world.kube.calls.clear()
    return key


async def test_create_applies_every_child_once_and_publishes_status() -> None:
    world = World()
    key = world.add(sample_body())
    result = await world.reconciler.reconcile(key, True)
    assert result == Result(None)
    applied = [c for c in world.kube.writes() if c[1] not in ("taskapis/status", "events")]
    assert len(applied) == CHILDREN
    assert world.condition(key, "Ready")["status"] == "False"
    assert world.condition(key, "ComponentsReady")["status"] == "True"
    assert ("Normal", "Applied") in {e[:2] for e in world.kube.events}
    assert world.reconciler.passes == 1


async def test_up_to_date_writes_nothing() -> None:
    world = World()
    key = await settled(world)
    assert await world.reconciler.reconcile(key, True) == Result(None)
    assert world.kube.writes() == []


async def test_a_pass_before_the_cache_catches_up_does_not_write_again() -> None:
    world = World()
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    world.sync()  # the caches now hold the children as the apply answered them...
    stale = copy.deepcopy(world.indices)
    world.kube.calls.clear()
    service = world.kube.objects[("services", "shop", "taskapi-sample")]
    written = copy.deepcopy(service)
    service["spec"]["ports"][0]["port"] = 1  # ...someone edits the Service
    await world.reconciler.reconcile(key, True)
    assert ("PATCH", "services", "taskapi-sample") not in world.kube.writes()  # not seen yet
    world.sync()
    assert world.indices != stale
    await world.reconciler.reconcile(key, True)
    assert ("PATCH", "services", "taskapi-sample") in world.kube.writes()  # drift undone
    assert world.kube.objects[("services", "shop", "taskapi-sample")]["spec"] == written["spec"]


async def test_drift_reapplies_only_the_changed_child() -> None:
    world = World()
    key = await settled(world)
    world.kube.objects[("services", "shop", "taskapi-sample")]["spec"]["ports"][0]["port"] = 1
    world.sync()
    await world.reconciler.reconcile(key, True)
    assert world.kube.writes() == [
        ("PATCH", "services", "taskapi-sample"),
        ("POST", "events", "taskapi-sample"),  # Applied: Service/taskapi-sample
    ]


async def test_a_status_pass_applies_nothing() -> None:
    world = World()
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, False)
    assert {c[1] for c in world.kube.writes()} == {"taskapis/status"}  # not even an Event


async def test_someone_elses_object_is_a_conflict_and_nothing_after_it_is_written() -> None:
    world = World()
    foreign(world, "services", "v1", "Service", "taskapi-sample")
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    ready_cond = world.condition(key, "Ready")
    assert ready_cond["reason"] == names.REASON_CHILD_CONFLICT
    assert "Service/taskapi-sample exists and is not controlled by it" in ready_cond["message"]
    written = {c[1] for c in world.kube.writes()}
    assert "deployments" not in written  # after the Service in apply order
    assert "services" not in written
    assert "DELETE" not in {c[0] for c in world.kube.calls}  # no prune beside a conflict


async def test_a_transient_error_stops_the_pass_and_leaves_status_alone() -> None:
    world = World()
    key = world.add(sample_body())
    world.kube.fail[("PATCH", "services")] = failing(503, "apiserver restarting")
    with pytest.raises(TransientError):
        await world.reconciler.reconcile(key, True)
    assert "status" not in world.taskapi(key)


async def test_a_lasting_apply_error_is_reported_and_later_children_wait() -> None:
    world = World()
    key = world.add(sample_body())
    world.kube.fail[("PATCH", "components")] = failing(422, "spec.type: Invalid value")
    await world.reconciler.reconcile(key, True)
    components = world.condition(key, "ComponentsReady")
    assert components["reason"] == names.REASON_APPLY_FAILED
    assert "spec.type: Invalid value" in components["message"]
    assert world.condition(key, "Ready")["reason"] == names.REASON_APPLY_FAILED
    assert "deployments" not in {c[1] for c in world.kube.writes()}


async def test_an_api_that_is_not_served_says_what_to_install() -> None:
    world = World()
    key = world.add(sample_body())
    world.kube.fail[("PATCH", "components")] = failing(404, "the server could not find it")
    await world.reconciler.reconcile(key, True)
    assert "is Dapr installed" in world.condition(key, "ComponentsReady")["message"].replace(
        "its operator (for dapr.io: Dapr) installed", "is Dapr installed"
    )


async def test_a_lasting_status_write_error_is_raised_as_it_is() -> None:
    world = World()
    key = world.add(sample_body())
    world.kube.fail[("PATCH", "taskapis/status")] = failing(422, "status.ready: Invalid")
    with pytest.raises(Exception, match="Invalid") as raised:
        await world.reconciler.reconcile(key, True)
    assert not isinstance(raised.value, TransientError)


async def test_a_taskapi_deleted_meanwhile_ends_the_pass_quietly() -> None:
    world = World()
    key = world.add(sample_body())
    world.kube.fail[("PATCH", "taskapis/status")] = failing(404, "not found")
    assert await world.reconciler.reconcile(key, False) == Result(None)


async def test_children_the_spec_no_longer_produces_are_pruned() -> None:
    world = World()
    key = await settled(world)  # replicas 2: a PodDisruptionBudget exists
    assert ("poddisruptionbudgets", "shop", "taskapi-sample") in world.kube.objects
    world.taskapi(key)["spec"]["replicas"] = 1
    world.taskapi(key)["metadata"]["generation"] = 4
    assert world.deliver(key)
    await world.reconciler.reconcile(key, True)
    assert ("DELETE", "poddisruptionbudgets", "taskapi-sample") in world.kube.calls
    assert ("poddisruptionbudgets", "shop", "taskapi-sample") not in world.kube.objects


async def test_paused_applies_nothing_and_says_so() -> None:
    world = World()
    key = world.add(sample_body(annotations={names.ANNOTATION_PAUSED: "true"}))
    await world.reconciler.reconcile(key, True)
    assert {c[1] for c in world.kube.writes()} == {"taskapis/status", "events"}
    assert world.condition(key, "Ready")["reason"] == names.REASON_PAUSED


async def test_a_taskapi_being_deleted_is_left_to_garbage_collection() -> None:
    world = World()
    key = world.add(sample_body(deletionTimestamp="2026-01-01T12:00:00Z"))
    assert await world.reconciler.reconcile(key, True) == Result(None)
    assert world.kube.calls == []
    assert world.reconciler.passes == 0
    assert await world.reconciler.reconcile(("shop", "unknown"), True) == Result(None)


async def test_an_invalid_spec_is_reported_without_touching_children() -> None:
    world = World()
    body = sample_body()
    body["spec"]["stateStore"] = {}  # neither managed nor ref
    key = world.add(body)
    await world.reconciler.reconcile(key, True)
    ready_cond = world.condition(key, "Ready")
    assert ready_cond["reason"] == names.REASON_INVALID_SPEC
    assert {c[1] for c in world.kube.writes()} == {"taskapis/status", "events"}


async def test_a_missing_referenced_component_and_secret_are_reported() -> None:
    world = World()
    body = sample_body()
    body["spec"]["stateStore"] = {"ref": {"name": "shared-state"}}
    world.kube.secrets.clear()
    key = world.add(body)
    await world.reconciler.reconcile(key, True)
    assert world.condition(key, "ComponentsReady")["reason"] == names.REASON_COMPONENT_NOT_FOUND
    world.kube.put(
        "components",
        {"metadata": {"name": "shared-state", "namespace": "shop"}, "spec": {"metadata": []}},
    )
    world.sync()
    world.deliver(key)
    await world.reconciler.reconcile(key, True)
    assert world.condition(key, "ComponentsReady")["reason"] == names.REASON_SECRET_NOT_FOUND
    world.kube.secrets |= {("shop", "notification-api-key"), ("shop", "redis")}
    world.monotonic += 61  # the Secret check's interval
    world.deliver(key)
    await world.reconciler.reconcile(key, True)
    cond = world.condition(key, "ComponentsReady")
    assert cond["reason"] == names.REASON_OUTBOX_NOT_CONFIGURED, cond


async def test_a_self_healing_loss_of_ready_is_held_then_published() -> None:
    world = World(hold_seconds=5)
    key = await settled(world)
    ready(world, key)
    await world.reconciler.reconcile(key, False)
    assert world.condition(key, "Ready")["status"] == "True"
    world.deliver(key)
    pod = world.kube.objects[("pods", "shop", "taskapi-sample-0")]
    pod["status"]["containerStatuses"][1]["ready"] = False
    world.sync()
    world.kube.calls.clear()
    result = await world.reconciler.reconcile(key, False)
    assert result.requeue_after == pytest.approx(5.05)  # look again when the hold ends
    assert world.kube.writes() == []
    world.monotonic += 3
    assert (await world.reconciler.reconcile(key, False)).requeue_after == pytest.approx(2.05)
    world.monotonic += 2.1
    await world.reconciler.reconcile(key, False)
    assert world.condition(key, "Ready")["reason"] == names.REASON_SIDECAR_NOT_READY
    assert ("Warning", names.REASON_SIDECAR_NOT_READY) in {e[:2] for e in world.kube.events}


async def test_a_new_probe_finding_is_confirmed_before_it_is_published() -> None:
    world = World(confirm_seconds=7)
    key = await settled(world)
    ready(world, key)
    for _ in range(2):  # Unknown (no ready pods) to Healthy takes two agreeing passes too
        await world.reconciler.reconcile(key, False)
        world.deliver(key)
    assert world.taskapi(key)["status"]["subscription"]["state"] == "Healthy"
    world.prober.registered = False  # the sidecars stop listing the subscription
    result = await world.reconciler.reconcile(key, False)
    assert result.requeue_after == 7  # re-probed soon, not at the next resync
    assert world.taskapi(key)["status"]["subscription"]["state"] == "Healthy"
    world.deliver(key)
    result = await world.reconciler.reconcile(key, False)  # the second agreeing pass
    assert world.taskapi(key)["status"]["subscription"]["state"] == "Unhealthy"
    assert result.requeue_after is None
    assert ("Warning", "SubscriptionUnhealthy") in {e[:2] for e in world.kube.events}


async def test_events_are_not_repeated_within_the_interval() -> None:
    world = World()
    body: dict[str, Any] = {"metadata": {"name": "a", "namespace": "ns"}}
    for _ in range(3):
        await world.recorder.record(body, "Normal", "Applied", "Service/a")
    assert len(world.kube.events) == 1
    world.monotonic += 601
    await world.recorder.record(body, "Normal", "Applied", "Service/a")
    assert len(world.kube.events) == 2


async def test_a_failed_event_post_does_not_fail_the_pass() -> None:
    world = World()
    world.kube.fail[("POST", "events")] = failing(403, "events is forbidden")
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    assert world.condition(key, "Ready")["status"] == "False"


async def test_a_new_taskapi_posts_applied_then_ready_and_no_start_up_noise() -> None:
    """Pods not ready yet and a subscription not known yet are how every TaskApi starts: no
    Warning Event for them (1000 TaskApis created at once made 2000 such Events)."""
    world = World()
    body = sample_body()
    body["spec"]["replicas"] = 1
    key = world.add(body)
    await world.reconciler.reconcile(key, True)
    assert world.condition(key, "Ready")["reason"] == names.REASON_PODS_NOT_READY
    assert [e[1] for e in world.kube.events] == ["Applied"]
    world.sync()
    world.deliver(key)
    ready(world, key, replicas=1)
    world.deliver(key)
    await world.reconciler.reconcile(key, False)
    assert [e[1] for e in world.kube.events] == ["Applied", "Ready"]


def test_the_deployment_waits_for_the_children_before_it() -> None:
    manifests = build_children(TaskApi.from_body(sample_body()))  # replicas 2: with a PDB
    first, second = waves(manifests, lambda m: m["kind"])
    assert [m["kind"] for m in second] == ["Deployment", "PodDisruptionBudget"]
    assert {"ServiceAccount", "Component", "Service"} <= {m["kind"] for m in first}
    assert waves([m for m in manifests if m["kind"] == "Service"], lambda m: m["kind"]) == [
        [m for m in manifests if m["kind"] == "Service"]
    ]


async def test_a_first_pass_reads_and_writes_each_wave_at_once() -> None:
    """Three round trips for a new TaskApi (reads, the first wave, the Deployment's), not one
    per child: what a pass waits for is the apiserver's latency."""
    world = World()
    in_flight: dict[str, int] = {"GET": 0, "PATCH": 0}
    most = dict(in_flight)
    get, apply = world.kube.get, world.kube.apply

    async def counted(verb: str, call: Any, *args: Any) -> Any:
        in_flight[verb] += 1
        most[verb] = max(most[verb], in_flight[verb])
        await asyncio.sleep(0)
        try:
            return await call(*args)
        finally:
            in_flight[verb] -= 1

    world.kube.get = lambda *a: counted("GET", get, *a)  # type: ignore[method-assign]
    world.kube.apply = lambda *a: counted("PATCH", apply, *a)  # type: ignore[method-assign]
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    # every GET at once; every child before the Deployment at once (the Deployment and the
    # PodDisruptionBudget after them)
    assert most == {"GET": CHILDREN, "PATCH": CHILDREN - 2}
    writes = [c[1] for c in world.kube.writes() if c[1] not in ("taskapis/status", "events")]
    assert len(writes) == CHILDREN
    assert writes[-2:] == ["deployments", "poddisruptionbudgets"]


async def test_the_first_status_shows_the_deployment_just_written() -> None:
    """Not "not found" before the watch delivers it, and then a second write a moment later."""
    world = World()
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    assert world.condition(key, "Available")["reason"] == names.REASON_DEPLOYMENT_PROGRESSING
    world.sync()
    world.deliver(key)
    world.kube.calls.clear()
    await world.reconciler.reconcile(key, False)  # the Deployment's ADDED event
    assert world.kube.writes() == []


async def test_a_starting_taskapis_progress_is_paced_and_becoming_ready_is_not() -> None:
    world = World(progress_seconds=2.0)
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)  # the first status: written at once
    world.sync()
    world.deliver(key)
    deployment = world.kube.objects[("deployments", "shop", "taskapi-sample")]
    deployment["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2}
    world.sync()
    world.kube.calls.clear()
    result = await world.reconciler.reconcile(key, False)  # progress: 2 pods, none ready
    assert result.requeue_after == pytest.approx(2.05)  # looked at again when it may go
    assert world.kube.writes() == []
    world.monotonic += 2.1
    await world.reconciler.reconcile(key, False)
    assert world.taskapi(key)["status"]["replicas"] == 2
    world.deliver(key)
    ready(world, key)
    world.deliver(key)
    world.kube.calls.clear()
    await world.reconciler.reconcile(key, False)  # Ready at once, though 0 s after the last
    assert world.condition(key, "Ready")["status"] == "True"
    # a start posts no Warning: only Applied and Ready
    assert [e[1] for e in world.kube.events] == ["Applied", "Ready"]


async def test_a_starting_taskapi_with_a_stuck_container_is_told_at_once() -> None:
    """Pods starting are no news, a pod that cannot start is: written and posted at once."""
    world = World()
    body = sample_body()
    body["spec"]["replicas"] = 1
    key = world.add(body)
    await world.reconciler.reconcile(key, True)
    world.sync()
    world.deliver(key)
    ready(world, key, replicas=1)
    world.kube.objects[("deployments", "shop", "taskapi-sample")]["status"]["readyReplicas"] = 0
    pod = world.kube.objects[("pods", "shop", "taskapi-sample-0")]
    app = pod["status"]["containerStatuses"][0]
    app["ready"] = False
    app["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    world.sync()
    world.deliver(key)
    world.kube.calls.clear()
    await world.reconciler.reconcile(key, False)  # 0 s after the first status: not paced
    assert ("PATCH", "taskapis/status", "taskapi-sample") in world.kube.writes()
    assert "ImagePullBackOff" in world.condition(key, "Ready")["message"]
    assert ("Warning", names.REASON_PODS_NOT_READY) in {e[:2] for e in world.kube.events}


async def test_children_of_kinds_watched_in_full_are_created_without_a_get() -> None:
    world = World()
    world.sync()  # the watches have listed: no Component or Resiliency of any name exists
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    gets = {c[1] for c in world.kube.calls if c[0] == "GET"}
    assert not gets & {"components", "resiliencies"}
    assert "services" in gets  # watched only when labelled ours: a GET tells
    writes = [c[1] for c in world.kube.writes()]
    assert (writes.count("components"), writes.count("resiliencies")) == (3, 1)


@pytest.mark.parametrize(
    ("plural", "kind", "name"),
    [
        ("components", "Component", "taskapi-sample-pubsub"),
        ("resiliencies", names.DAPR_RESILIENCY_KIND, names.resiliency_name("taskapi-sample")),
    ],
)
async def test_someone_elses_object_of_a_kind_watched_in_full_is_read_and_is_a_conflict(
    plural: str, kind: str, name: str
) -> None:
    world = World()
    foreign(world, plural, "dapr.io/v1alpha1", kind, name)
    world.sync()
    key = world.add(sample_body())
    await world.reconciler.reconcile(key, True)
    assert ("GET", plural, name) in world.kube.calls
    assert world.condition(key, "Ready")["reason"] == names.REASON_CHILD_CONFLICT
    assert plural not in {c[1] for c in world.kube.writes()}
