"""Read and validate dags/notebooks.yaml into frozen objects (no Airflow objects yet).

Composer uploads the whole dags/ folder, so this helper lives here. It may import only
the standard library, yaml and Airflow: it runs in the scheduler, the DAG processor and
every worker, where the notebook side (kit, pandas, prophet, papermill) is absent.
Nothing here touches the network.

Every problem is collected and reported at once, each naming the file and the entry,
so one import error in the Airflow UI says everything that is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import kit_dag_checks as check
import yaml

CONFIG_ENV = "KIT_DAGS_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent / "notebooks.yaml"

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
VERSION_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{12}")
TAINT_RE = re.compile(r"([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)")
# Labels kit sets on every pod itself; a config may not redefine them.
RESERVED_LABELS = {"notebook", "notebook-version", "app.kubernetes.io/name"}

CLUSTER_KEYS = {
    "mode", "namespace", "node_pool", "taint", "service_account", "deferrable",
    "project", "location", "cluster_name", "gcp_conn_id", "use_internal_ip", "use_dns_endpoint",
    "config_file", "cluster_context", "kubernetes_conn_id",
}  # fmt: skip
SETTINGS_KEYS = {"project", "image", "modules_bucket", "outputs_bucket", "data_bucket"}
DEFAULT_KEYS = {
    "owner", "start_date", "timezone", "retries", "retry_delay", "max_retry_delay", "timeout",
    "startup_timeout", "resources", "labels", "tags", "params", "max_active_runs",
}  # fmt: skip
NOTEBOOK_KEYS = DEFAULT_KEYS | {
    "name",
    "version",
    "schedule",
    "description",
    "fan_out",
    "max_parallel",
}

BUILTIN_DEFAULTS: dict[str, Any] = {
    "owner": "kit", "start_date": "2026-01-01", "timezone": "UTC", "retries": 2,
    "retry_delay": "5m", "max_retry_delay": "1h", "timeout": "1h", "startup_timeout": "15m",
    "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                  "limits": {"cpu": "2", "memory": "4Gi"}},
    "labels": {}, "tags": [], "params": {}, "max_active_runs": 1,
}  # fmt: skip


class NotebooksConfigError(ValueError):
    """notebooks.yaml is malformed; the message lists every problem, each naming its entry."""


@dataclass(frozen=True)
class Cluster:
    """Where pods run and how Airflow reaches that cluster."""

    mode: str  # in_cluster | kubeconfig | gke
    namespace: str
    node_pool: str
    taint: tuple[str, str, str]  # key, value, effect
    service_account: str
    deferrable: bool
    project: str | None
    location: str | None
    cluster_name: str | None
    gcp_conn_id: str
    use_internal_ip: bool
    use_dns_endpoint: bool
    config_file: str | None
    cluster_context: str | None
    kubernetes_conn_id: str | None


@dataclass(frozen=True)
class Settings:
    """The kit settings each pod receives as KIT_* variables (see docs/architecture.md)."""

    project: str
    image: str
    modules_bucket: str
    outputs_bucket: str
    data_bucket: str


@dataclass(frozen=True)
class Notebook:
    """One notebooks.yaml entry with its defaults applied: one DAG."""

    name: str
    version: str
    schedule: str | None
    description: str
    params: tuple[tuple[str, str], ...]
    fan_out: tuple[tuple[tuple[str, str], ...], ...]
    max_parallel: int | None
    owner: str
    start_date: str
    timezone: str
    retries: int
    retry_delay: int
    max_retry_delay: int
    timeout: int
    startup_timeout: int
    resources: dict[str, dict[str, str]]
    labels: dict[str, str]
    tags: tuple[str, ...]
    max_active_runs: int


@dataclass(frozen=True)
class Config:
    """The whole file."""

    path: Path
    cluster: Cluster
    settings: Settings
    notebooks: tuple[Notebook, ...]


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The notebooks.yaml to read: $KIT_DAGS_CONFIG, else the one next to this module."""
    raw = (os.environ if environ is None else environ).get(CONFIG_ENV, "")
    return Path(raw) if raw else DEFAULT_CONFIG


def _notebook(
    raw: Any, index: int, defaults: dict[str, Any], errors: check.Errors
) -> Notebook | None:
    entry = check.mapping(raw, f"notebooks[{index}]", errors)
    name = entry.get("name")
    where = f"notebooks[{index}] {name!r}" if name is not None else f"notebooks[{index}]"
    check.unknown(entry, NOTEBOOK_KEYS, where, errors)
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        errors.add(where, f"name {name!r} must match [a-z0-9][a-z0-9_-]{{0,62}}")
        return None
    version = entry.get("version", "latest")
    if version != "latest" and not (isinstance(version, str) and VERSION_RE.fullmatch(version)):
        errors.add(
            where, f"version {version!r} must be 'latest' or like 20260101T000000Z-0123456789ab"
        )
    merged = {**defaults, **{k: v for k, v in entry.items() if k in DEFAULT_KEYS}}
    tz = str(merged["timezone"])
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors.add(f"{where}.timezone", f"unknown time zone {tz!r}")
        tz = "UTC"
    labels = {**check.mapping(defaults["labels"], f"{where}.labels", errors)}
    labels.update(check.mapping(entry.get("labels"), f"{where}.labels", errors))
    labels = {str(k): check.scalar(v, f"{where}.labels.{k}", errors) for k, v in labels.items()}
    for key, value in labels.items():
        check.label(key, value, f"{where}.labels", errors)
        if key in RESERVED_LABELS:
            errors.add(f"{where}.labels", f"label {key!r} is set by kit itself")
    params = {**check.params(defaults["params"], "defaults.params", errors)}
    params.update(check.params(entry.get("params"), f"{where}.params", errors))
    fan_out = entry.get("fan_out")
    items: list[tuple[tuple[str, str], ...]] = []
    if fan_out is not None and (not isinstance(fan_out, list) or not fan_out):
        errors.add(f"{where}.fan_out", "must be a non-empty list of parameter mappings")
    for i, item in enumerate(fan_out or []):
        values = check.params(item, f"{where}.fan_out[{i}]", errors)
        if not values:
            errors.add(f"{where}.fan_out[{i}]", "must set at least one parameter")
        if tuple(values.items()) in items:
            errors.add(f"{where}.fan_out[{i}]", "duplicates an earlier item")
        items.append(tuple(values.items()))
    tags = [
        *check.strings(defaults["tags"], f"{where}.tags", errors),
        *check.strings(entry.get("tags"), f"{where}.tags", errors),
    ]
    description = entry.get("description", f"Runs the {name} notebook with kit run.")
    return Notebook(
        name=name,
        version=str(version),
        schedule=check.schedule(entry.get("schedule"), tz, f"{where}.schedule", errors),
        description=str(description),
        params=tuple(params.items()),
        fan_out=tuple(items),
        max_parallel=check.integer(entry["max_parallel"], f"{where}.max_parallel", errors, 1)
        if "max_parallel" in entry
        else None,
        owner=str(merged["owner"]),
        start_date=check.date(merged["start_date"], f"{where}.start_date", errors),
        timezone=tz,
        retries=check.integer(merged["retries"], f"{where}.retries", errors, 0),
        retry_delay=check.duration(merged["retry_delay"], f"{where}.retry_delay", errors),
        max_retry_delay=check.duration(
            merged["max_retry_delay"], f"{where}.max_retry_delay", errors
        ),
        timeout=check.duration(merged["timeout"], f"{where}.timeout", errors),
        startup_timeout=check.duration(
            merged["startup_timeout"], f"{where}.startup_timeout", errors
        ),
        resources=check.resources(merged["resources"], f"{where}.resources", errors),
        labels=labels,
        tags=tuple(dict.fromkeys(tags)),
        max_active_runs=check.integer(
            merged["max_active_runs"], f"{where}.max_active_runs", errors, 1
        ),
    )


def _cluster(raw: Any, errors: check.Errors) -> Cluster:
    data = check.mapping(raw, "cluster", errors)
    check.unknown(data, CLUSTER_KEYS, "cluster", errors)
    mode = data.get("mode", "in_cluster")
    if mode not in ("in_cluster", "kubeconfig", "gke"):
        errors.add("cluster.mode", f"{mode!r} must be in_cluster, kubeconfig or gke")
    required = {"gke": ("project", "location", "cluster_name"), "kubeconfig": ("config_file",)}
    for key in required.get(mode, ()):
        if not data.get(key):
            errors.add("cluster", f"mode {mode} needs {key!r}")
    taint = TAINT_RE.fullmatch(str(data.get("taint", "dedicated=pool-1:NoSchedule")))
    if taint is None:
        errors.add("cluster.taint", f"{data.get('taint')!r} must look like key=value:NoSchedule")
    for key in ("namespace", "node_pool", "service_account"):
        if key in data and not (
            isinstance(data[key], str) and check.LABEL_NAME_RE.fullmatch(data[key])
        ):
            errors.add(f"cluster.{key}", f"{data[key]!r} is not a valid Kubernetes name")
    opt = {k: (str(data[k]) if data.get(k) is not None else None) for k in CLUSTER_KEYS}
    return Cluster(
        mode=str(mode),
        namespace=str(data.get("namespace", "kit-runs")),
        node_pool=str(data.get("node_pool", "pool-1")),
        taint=(taint.group(1), taint.group(2) or "", taint.group(3)) if taint else ("", "", ""),
        service_account=str(data.get("service_account", "kit-runner")),
        deferrable=bool(data.get("deferrable", False)),
        project=opt["project"],
        location=opt["location"],
        cluster_name=opt["cluster_name"],
        gcp_conn_id=str(data.get("gcp_conn_id", "google_cloud_default")),
        use_internal_ip=bool(data.get("use_internal_ip", False)),
        use_dns_endpoint=bool(data.get("use_dns_endpoint", False)),
        config_file=opt["config_file"],
        cluster_context=opt["cluster_context"],
        kubernetes_conn_id=opt["kubernetes_conn_id"],
    )


def _settings(raw: Any, environ: Mapping[str, str], errors: check.Errors) -> Settings:
    """Settings from the file; KIT_* variables of the Airflow environment take precedence,
    as in kit.config (a Composer environment variable, or `kit dev env` locally)."""
    data = check.mapping(raw, "settings", errors)
    check.unknown(data, SETTINGS_KEYS, "settings", errors)
    values: dict[str, str] = {}
    for key in sorted(SETTINGS_KEYS):
        value = environ.get(f"KIT_{key.upper()}") or data.get(key)
        if not isinstance(value, str) or not value:
            errors.add(f"settings.{key}", "is required (a non-empty string)")
            value = ""
        elif key.endswith("_bucket") and not re.fullmatch(r"(gs|file)://\S+|/\S*", value):
            errors.add(f"settings.{key}", f"{value!r} must be a gs:// URL")
        values[key] = value.rstrip("/") if key.endswith("_bucket") else value
    return Settings(**values)


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Parse and validate notebooks.yaml; raises NotebooksConfigError listing every problem."""
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise NotebooksConfigError(f"{path}: cannot read the DAG config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise NotebooksConfigError(f"{path}: malformed YAML: {exc}") from None
    errors = check.Errors()
    data = check.mapping(data, "top level", errors)
    check.unknown(data, {"cluster", "settings", "defaults", "notebooks"}, "top level", errors)
    cluster = _cluster(data.get("cluster"), errors)
    settings = _settings(data.get("settings"), env, errors)
    raw_defaults = check.mapping(data.get("defaults"), "defaults", errors)
    check.unknown(raw_defaults, DEFAULT_KEYS, "defaults", errors)
    defaults = {**BUILTIN_DEFAULTS, **raw_defaults}
    entries = data.get("notebooks")
    if not isinstance(entries, list) or not entries:
        errors.add("notebooks", "must be a non-empty list of entries")
        entries = []
    notebooks: list[Notebook] = []
    for index, raw in enumerate(entries):
        notebook = _notebook(raw, index, defaults, errors)
        if notebook is None:
            continue
        if any(n.name == notebook.name for n in notebooks):
            errors.add(
                f"notebooks[{index}] {notebook.name!r}", "duplicate name (each notebook is one DAG)"
            )
        notebooks.append(notebook)
    if errors.items:
        listing = "\n".join(f"  - {item}" for item in errors.items)
        raise NotebooksConfigError(f"{path}: {len(errors.items)} problem(s):\n{listing}")
    return Config(path=path, cluster=cluster, settings=settings, notebooks=tuple(notebooks))
