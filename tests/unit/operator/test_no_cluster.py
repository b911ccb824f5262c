"""The operator's first words without a cluster name what is missing (not kopf's "install an
API client library")."""

from __future__ import annotations

from pathlib import Path

from taskapi_operator.__main__ import no_cluster_reason


def test_nothing_to_log_in_with_is_said_plainly(tmp_path: Path) -> None:
    reason = no_cluster_reason({}, tmp_path, token=tmp_path / "token")
    assert reason.startswith("No Kubernetes cluster to connect to:"), reason
    assert str(tmp_path / ".kube" / "config") in reason


def test_in_cluster_needs_the_service_address_and_the_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    env = {"KUBERNETES_SERVICE_HOST": "198.19.1.1"}
    assert no_cluster_reason(env, tmp_path, token=token)  # no token mounted
    token.write_text("t")
    assert no_cluster_reason(env, tmp_path, token=token) == ""


def test_a_kubeconfig_file_named_or_at_home_will_do(tmp_path: Path) -> None:
    token = tmp_path / "token"
    named = tmp_path / "named.yaml"
    assert no_cluster_reason({"KUBECONFIG": str(named)}, tmp_path, token=token)
    named.write_text("apiVersion: v1")
    assert no_cluster_reason({"KUBECONFIG": f"/nonexistent:{named}"}, tmp_path, token=token) == ""
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1")
    assert no_cluster_reason({}, tmp_path, token=token) == ""
