"""Prometheus scrapes every service, and every panel and alert asks for a metric that exists."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose_model import (
    APP_SERVICES,
    OBSERVABILITY_DIR,
    REPO,
    exposed_metric_names,
    load_yaml,
    metrics_in_promql,
)

DASHBOARD = OBSERVABILITY_DIR / "grafana" / "dashboards" / "taskstream.json"
ALERTS = OBSERVABILITY_DIR / "prometheus" / "alerts.yml"


def code_sources() -> list[Path]:
    sources = [*REPO.glob("shared/**/*.py"), *REPO.glob("services/*/app/**/*.py")]
    return [path for path in sources if "tests" not in path.parts]


def dashboard_exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def alert_exprs() -> list[str]:
    groups = load_yaml(ALERTS)["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_prometheus_discovers_every_replica_of_every_service() -> None:
    config = load_yaml(OBSERVABILITY_DIR / "prometheus" / "prometheus.yml")
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "taskstream")
    ports = {name: sd["port"] for sd in job["dns_sd_configs"] for name in sd["names"]}

    assert set(ports) == set(APP_SERVICES)
    assert {ports[name] for name in ("auth", "tasks", "search")} == {8000}


def test_prometheus_scrapes_the_gateway_on_its_ops_port_not_its_public_one() -> None:
    config = load_yaml(OBSERVABILITY_DIR / "prometheus" / "prometheus.yml")
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "taskstream")
    ports = {name: sd["port"] for sd in job["dns_sd_configs"] for name in sd["names"]}
    gateway = load_yaml(REPO / "deploy/compose/compose.yaml")["services"]["gateway"]

    assert str(ports["gateway"]) == str(gateway["environment"]["GATEWAY_OPS_PORT"])
    assert gateway["environment"]["GATEWAY_OPS_HOST"] == "0.0.0.0"  # noqa: S104 - backend network
    assert not any(str(ports["gateway"]) in str(p) for p in gateway["ports"])


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_asked_for_is_one_the_code_exposes(source: str) -> None:
    exprs = dashboard_exprs() if source == "dashboard" else alert_exprs()
    asked = set().union(*(metrics_in_promql(expr) for expr in exprs))

    missing = asked - exposed_metric_names(code_sources())

    assert asked
    assert not missing, f"{source} asks for metrics nothing exposes: {sorted(missing)}"


@pytest.mark.parametrize(
    "metric",
    [
        "http_requests_total",  # request rate and errors
        "http_request_duration_seconds_bucket",  # latency percentiles per route
        "gateway_rate_limited_total",
        "search_consumer_lag",
        "search_event_to_searchable_seconds_bucket",
    ],
)
def test_the_dashboard_shows_what_operators_watch(metric: str) -> None:
    assert any(metric in metrics_in_promql(expr) for expr in dashboard_exprs())


def test_latency_percentiles_are_per_route() -> None:
    latency = [e for e in dashboard_exprs() if "http_request_duration_seconds_bucket" in e]

    assert latency
    assert all("route" in expr for expr in latency)


def test_grafana_provisions_the_dashboard_directory_it_is_mounted_in() -> None:
    provider = load_yaml(OBSERVABILITY_DIR / "grafana/provisioning/dashboards/taskstream.yaml")
    grafana = load_yaml(REPO / "deploy/compose/compose.yaml")["services"]["grafana"]

    path = provider["providers"][0]["options"]["path"]
    assert f"../observability/grafana/dashboards:{path}:ro" in grafana["volumes"]


def test_promql_metric_extraction_ignores_labels_functions_and_groupings() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(x_bucket{route!~"/a|/b"}[5m])))'
        " / max without (pod) (y_total) > bool 1"
    )

    assert metrics_in_promql(expr) == {"x_bucket", "y_total"}
