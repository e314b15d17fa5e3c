"""Reading the deployment files the way the tests need them: YAML, settings, metric names."""

import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
OBSERVABILITY_DIR = REPO / "deploy" / "observability"
APP_SERVICES = ("gateway", "auth", "tasks", "search")
# Read by the image's command, not by a service's settings.
IMAGE_VARIABLES = frozenset({"SERVICE"})


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(COMPOSE_DIR / "compose.yaml")["services"]
    return services


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"services.{service}.app.config")
    settings: type[BaseSettings] = module.Settings
    return settings


def env_names_by_field(settings: type[BaseSettings]) -> dict[str, set[str]]:
    """The environment variables each field is read from: its aliases, else prefix + name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: dict[str, set[str]] = {}
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names[field_name] = {str(choice).upper() for choice in alias.choices}
        elif isinstance(alias, str):
            names[field_name] = {alias.upper()}
        else:
            names[field_name] = {f"{prefix}{field_name}".upper()}
    return names


def setting_env_names(settings: type[BaseSettings]) -> set[str]:
    return set().union(*env_names_by_field(settings).values())


def required_env_names(settings: type[BaseSettings]) -> set[str]:
    """Variables without which the settings do not validate (missing or refused defaults)."""
    by_field = env_names_by_field(settings)
    by_alias = {alias: field for field, aliases in by_field.items() for alias in aliases}
    try:
        settings.model_validate({})
    except ValidationError as exc:
        failed = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        fields = {by_alias.get(name.upper(), name) for name in failed}
        return set().union(*(by_field[field] for field in fields))
    return set()


def parse_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


_METRIC_CALL = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][\w:]*)\"")


def exposed_metric_names(sources: Iterable[Path]) -> set[str]:
    """Every series name the code's prometheus_client metrics expose."""
    exposed = {"up"}
    for source in sources:
        for kind, name in _METRIC_CALL.findall(source.read_text()):
            exposed |= _series(kind, name)
    return exposed


def _series(kind: str, name: str) -> set[str]:
    if kind == "Counter":
        return {f"{name.removesuffix('_total')}_total"}
    if kind in ("Histogram", "Summary"):
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}


# Grafana's interval variable is not PromQL; any duration parses the same way.
GRAFANA_INTERVAL = "$__rate_interval"
_CHILDREN = ("lhs", "rhs", "expr", "param", "args", "vector_selector")


def metrics_in_promql(expr: str) -> set[str]:
    """Metric names an expression selects, from its syntax tree; a syntax error raises."""
    return _selected(promql_parser.parse(expr.replace(GRAFANA_INTERVAL, "5m")))


def _selected(node: object) -> set[str]:
    if isinstance(node, promql_parser.VectorSelector):
        return {node.name} if node.name else set()
    if isinstance(node, list):
        return set().union(*(_selected(item) for item in node))
    children = (getattr(node, name, None) for name in _CHILDREN)
    return set().union(*(_selected(child) for child in children if child is not None))
