"""The real node's safety rules on this machine: its addresses route into its veth and
nowhere else, its namespace has no way out, and a killed run's leftovers are reaped."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import node, node_network, numbers
from harness.node_network import NodeAddresses

pytestmark = pytest.mark.integration


@pytest.fixture
def number() -> Iterator[int]:
    n, fd = numbers.claim()
    try:
        yield n
    finally:
        os.close(fd)


def test_cluster_addresses_route_into_the_veth_only(number: int) -> None:
    addr = NodeAddresses(number)
    node_network.create(addr)
    try:
        assert node_network.route_device(f"198.18.{number}.7") == addr.host_veth
        assert node_network.route_device(addr.dns_ip) == addr.host_veth
        # the node's namespace: its /30 and nothing else; a public address is unreachable
        routes = node_network.in_netns(addr.netns, "ip", "route")
        assert routes.split() == [
            f"198.19.{number}.128/30", "dev", "eth0", "proto", "kernel", "scope", "link",
            "src", addr.node_ip,
        ], routes  # fmt: skip
        unreachable = subprocess.run(
            ["ip", "netns", "exec", addr.netns, "ip", "route", "get", "192.0.2.1"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert unreachable.returncode != 0, unreachable.stdout
        assert "unreachable" in unreachable.stderr, unreachable.stderr
    finally:
        node_network.delete(addr)
    assert number not in node_network.existing()
    # without the node its range falls into the guard, never the host's uplink
    assert node_network.route_device(f"198.18.{number}.7") == ""


def test_the_reaper_clears_what_a_killed_run_left(number: int) -> None:
    """A run killed with SIGKILL leaves its namespace, a process in it and its cgroups: the
    next run's start-up reaper removes them all."""
    addr = NodeAddresses(number)
    node_network.create(addr)
    cgroup = f"/{addr.netns}"
    node.make_cgroups(cgroup)
    sleeper = subprocess.Popen(
        ["nsenter", f"--net={node_network.NETNS_DIR / addr.netns}", "sleep", "300"]
    )
    for hierarchy in node.cgroup_hierarchies():
        (hierarchy / addr.netns / "cgroup.procs").write_text(str(sleeper.pid))
    time.sleep(0.2)
    assert sleeper.pid in node_network.pids(addr.netns)

    node.reap(number)

    assert sleeper.wait(10) == -9
    assert number not in node_network.existing()
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{addr.netns}"))
