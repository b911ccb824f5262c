"""Removing the operator never deletes users' TaskApis: the CRD keeps itself under Argo CD and
Helm, and the chart ships exactly the repository's CRD (one source, copied, not linked)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CRD = REPO / "crds" / "taskapi.yaml"
CHART_CRD = REPO / "deploy" / "helm" / "taskapi-operator" / "crds" / "taskapi.yaml"


def test_chart_crd_is_a_copy_of_the_repository_crd() -> None:
    # Helm does not package symlinks, so the chart carries a copy; this keeps it one source.
    assert not CHART_CRD.is_symlink()
    assert CHART_CRD.read_bytes() == CRD.read_bytes(), (
        "the chart's CRD differs from crds/taskapi.yaml: run scripts/sync-chart.sh"
    )


@pytest.mark.parametrize("path", [CRD, CHART_CRD], ids=["crds", "chart"])
def test_crd_survives_argocd_prune_and_helm_uninstall(path: Path) -> None:
    (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
    annotations = crd["metadata"].get("annotations") or {}
    # Argo CD: neither pruning nor deleting the Application deletes this resource.
    options = annotations.get("argocd.argoproj.io/sync-options", "").split(",")
    assert "Delete=false" in [o.strip() for o in options], annotations
    # Helm: `helm uninstall` (and an upgrade that drops it) leaves the resource in place.
    assert annotations.get("helm.sh/resource-policy") == "keep", annotations
