"""Read and validate dags/notebooks.yaml into frozen pydantic models (no Airflow objects yet).

Composer uploads the whole dags/ folder, so this helper lives here. It may import only
the standard library, yaml, pydantic and Airflow: it runs in the scheduler, the DAG
processor and every worker, where the notebook side (kit, pandas, prophet, papermill) is
absent. Nothing here touches the network.

Every problem is collected and reported at once, one line each, naming the file and the
key (`notebooks[0] 'forecast'.schedule: ...`), so one import error in the Airflow UI says
everything that is wrong. The same file gives the same lines on every Airflow version.
"""

from __future__ import annotations

import datetime
import difflib
import importlib.util
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from kit_airflow_compat import CronTriggerTimetable
from kit_dag_fields import (
    Bucket,
    ClusterMode,
    ConnId,
    Count,
    Duration,
    EmailAddress,
    FanOut,
    KubernetesName,
    Labels,
    LogFormat,
    Name,
    NotifyEvent,
    Params,
    PositiveCount,
    Quantity,
    ResourceName,
    Tags,
    Taint,
    Text,
    TimeZone,
    Version,
    WebUrl,
    fail,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

CONFIG_ENV = "KIT_DAGS_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent / "notebooks.yaml"
# PyYAML's C (libyaml) safe loader when the wheel has it: 10x faster than the pure-Python
# one, which was a third of a 100-entry parse (bench/results.md, measurement 3).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Keys a cluster mode cannot do without.
MODE_NEEDS = {"gke": ("project", "location", "cluster_name"), "kubeconfig": ("config_file",)}
# Notifiers (Airflow's own, see kit_dag_notify.py) and the provider each one needs.
NOTIFIERS = {"email": "airflow.providers.smtp", "slack": "airflow.providers.slack"}
PROVIDER_PACKAGES = {
    "email": "apache-airflow-providers-smtp",
    "slack": "apache-airflow-providers-slack",
}


class NotebooksConfigError(ValueError):
    """notebooks.yaml is malformed; the message lists every problem, each naming its key."""


class Model(BaseModel):
    """Every section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Cluster(Model):
    """Where pods run and how Airflow reaches that cluster."""

    mode: ClusterMode = "in_cluster"
    namespace: KubernetesName = "kit-runs"
    node_pool: KubernetesName = "pool-1"
    taint: Taint = ("dedicated", "pool-1", "NoSchedule")  # key, value, effect
    service_account: KubernetesName = "kit-runner"
    deferrable: StrictBool = False
    project: str | None = None
    location: str | None = None
    cluster_name: str | None = None
    gcp_conn_id: str = "google_cloud_default"
    use_internal_ip: StrictBool = False
    use_dns_endpoint: StrictBool = False
    config_file: str | None = None
    cluster_context: str | None = None
    kubernetes_conn_id: str | None = None

    @model_validator(mode="after")
    def _mode_needs(self) -> Self:
        missing = [key for key in MODE_NEEDS.get(self.mode, ()) if not getattr(self, key)]
        if missing:
            fail(f"mode {self.mode} needs {', '.join(map(repr, missing))}")
        return self


class Settings(Model):
    """The kit settings each pod receives as KIT_* variables (see docs/architecture.md),
    and where the team serves `kit review` (for the links in notifications)."""

    project: Text
    image: Text
    modules_bucket: Bucket
    outputs_bucket: Bucket
    data_bucket: Bucket
    # Cloud Logging parses JSON lines from a container: each progress line an entry.
    log_format: LogFormat = "json"
    review_url: WebUrl | None = None


# Settings a KIT_* variable of the Airflow environment overrides (kit's own settings).
OVERRIDABLE = ("project", "image", "modules_bucket", "outputs_bucket", "data_bucket", "log_format")


class Notify(Model):
    """One notifier of an entry's `notify` list: who hears about its runs, and when.

    `email: [addresses]` (the SMTP provider's SmtpNotifier, connection smtp_conn_id) or
    `slack: CONN_ID` (the Slack provider's SlackWebhookNotifier, an incoming-webhook
    connection); `when` says which events: failure (the default) and recovery (a success
    after a failure). (Not `on`: YAML reads that key as the boolean true.)"""

    email: list[EmailAddress] | None = None
    slack: ConnId | None = None
    when: list[NotifyEvent] = ["failure"]
    smtp_conn_id: ConnId = "smtp_default"
    from_email: EmailAddress | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_notifier(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if odd := [key for key in data if not isinstance(key, str)]:
            fail(f"key {odd[0]!r} is not a name (YAML reads on/off/yes/no as booleans)")
        kinds = [key for key in data if key in NOTIFIERS and data[key] is not None]
        unknown = [key for key in data if key not in cls.model_fields]
        if unknown and not kinds:
            close = difflib.get_close_matches(str(unknown[0]), NOTIFIERS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            fail(f"unknown notifier {unknown[0]!r} (known: {', '.join(NOTIFIERS)}{hint})")
        if len(kinds) != 1:
            fail(f"one notifier per item ({' or '.join(NOTIFIERS)}), got {len(kinds)}")
        return data

    @field_validator("slack", "email")
    @classmethod
    def _provider_installed(cls, value: Any, info: ValidationInfo) -> Any:
        """A notifier whose provider is missing fails at parse time, not at the first failure."""
        kind = str(info.field_name)
        if value is not None and importlib.util.find_spec(NOTIFIERS[kind]) is None:
            fail(f"the {kind} notifier needs {PROVIDER_PACKAGES[kind]}, not installed here")
        return value

    @property
    def kind(self) -> str:
        """email or slack."""
        return "email" if self.email is not None else "slack"


class Resources(Model):
    """Container requests and limits as Kubernetes quantities; a memory limit is required."""

    requests: dict[ResourceName, Quantity] = {}
    limits: dict[ResourceName, Quantity] = {}

    @model_validator(mode="after")
    def _memory_limit(self) -> Self:
        if "memory" not in self.limits:
            fail("limits.memory is required (a notebook without one can starve the node)")
        return self


class Defaults(Model):
    """What every notebook inherits; an entry overrides any of it (labels, tags, params merge)."""

    owner: Text = "kit"
    start_date: datetime.date = datetime.date(2026, 1, 1)
    timezone: TimeZone = "UTC"
    retries: Count = 2
    retry_delay: Duration = 300
    max_retry_delay: Duration = 3600
    timeout: Duration = 3600
    startup_timeout: Duration = 900
    resources: Resources = Resources(
        requests={"cpu": "1", "memory": "2Gi"}, limits={"cpu": "2", "memory": "4Gi"}
    )
    labels: Labels = {}
    tags: Tags = []
    params: Params = {}
    max_active_runs: PositiveCount = 1
    catchup: StrictBool = False  # schedule the runs missed since start_date (or since a pause)
    log_output: StrictBool = False  # kit run --log-output: the cells' own output in the task log
    notify: list[Notify] = []


class Notebook(Defaults):
    """One notebooks.yaml entry with the defaults applied: one DAG."""

    name: Name
    version: Version = "latest"
    schedule: str | None = None
    description: str | None = None
    fan_out: FanOut | None = None
    max_parallel: PositiveCount | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A cron expression or preset, checked by the timetable Airflow will run it with."""
        if value is not None and (problem := cron_problem(value, info.data.get("timezone", "UTC"))):
            fail(f"bad cron expression {value!r}: {problem}")
        return value


@cache
def cron_problem(expression: str, timezone: str) -> str | None:
    """What Airflow's CronTriggerTimetable finds wrong with a schedule, or None. Cached:
    building a timetable costs ~1.5 ms on Airflow 2 (it also writes a description), and
    entries often share a schedule (bench/results.md, measurement 3)."""
    try:
        CronTriggerTimetable(expression, timezone=timezone).validate()
    except Exception as exc:  # AirflowTimetableInvalid, or croniter's own errors
        return str(exc)
    return None


class TopLevel(Model):
    """The file's sections (only their names are checked here: each section is validated
    on its own, so that an entry's errors can name the entry)."""

    cluster: Any = None
    settings: Any = None
    defaults: Any = None
    notebooks: Any = None


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


def _key_path(where: str, loc: list[int | str]) -> str:
    out = where
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "top level"


def _fields(model: type[BaseModel], loc: list[int | str]) -> list[str]:
    """The keys allowed at `loc` inside `model` (for "did you mean")."""
    for part in loc:
        annotation = (
            model.model_fields[str(part)].annotation if part in model.model_fields else None
        )
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _problems(exc: ValidationError, model: type[BaseModel], where: str) -> Iterator[str]:
    """One line per pydantic error: the key path, then what is wrong with it."""
    for error in exc.errors(include_url=False):
        loc, kind = list(error["loc"]), error["type"]
        if kind == "extra_forbidden":
            key = str(loc.pop())
            close = difflib.get_close_matches(key, _fields(model, loc), n=1)
            message = f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif kind == "missing":
            message = f"{loc.pop()!r} is required"
        elif kind == "kit":
            message = error["msg"]
        elif kind in ("model_type", "dict_type"):
            message = f"must be a mapping, got {type(error['input']).__name__}"
        else:
            shown = repr(error["input"])
            message = f"{error['msg']}, got {shown if len(shown) <= 60 else shown[:57] + '...'}"
        if loc and loc[-1] == "[key]":  # a mapping's key was rejected
            loc.pop()
            rejected = loc.pop()
            message = message if kind == "kit" else f"key {rejected!r}: {message}"
        yield f"{_key_path(where, loc)}: {message}"


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any, where: str, problems: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, model, where))
        return None


def _merged(defaults: Defaults, entry: dict[str, Any]) -> dict[str, Any]:
    """An entry over the defaults; its labels and params add to theirs, its tags follow."""
    merged = {**defaults.model_dump(), **entry}
    for key in ("labels", "params", "tags"):
        inherited, own = getattr(defaults, key), entry.get(key)
        if own is None:
            merged[key] = inherited
        elif isinstance(own, dict) and isinstance(inherited, dict):
            merged[key] = {**inherited, **own}
        elif isinstance(own, list) and isinstance(inherited, list):
            merged[key] = [*inherited, *own]
    return merged


def _notebooks(entries: list[Any], defaults: Defaults, problems: list[str]) -> list[Notebook]:
    notebooks: list[Notebook] = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"notebooks[{index}]" + (f" {name!r}" if name is not None else "")
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping, got {type(entry).__name__}")
            continue
        notebook = _validate(Notebook, _merged(defaults, entry), where, problems)
        if notebook is None:
            continue
        if any(n.name == notebook.name for n in notebooks):
            problems.append(f"{where}: duplicate name (each notebook is one DAG)")
        notebooks.append(notebook)
    return notebooks


def _with_overrides(section: Any, environ: Mapping[str, str]) -> Any:
    """`settings` with each key that a KIT_* variable sets replaced by the variable."""
    if section is not None and not isinstance(section, dict):
        return section  # reported as not a mapping
    keys = {key: f"KIT_{key.upper()}" for key in OVERRIDABLE}
    return {**(section or {}), **{k: environ[v] for k, v in keys.items() if environ.get(v)}}


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Parse and validate notebooks.yaml; raises NotebooksConfigError listing every problem.

    A KIT_* variable of the Airflow environment (a Composer environment variable, or
    `kit dev env` locally) takes precedence over the same key of `settings`.
    """
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    try:
        data = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    except OSError as exc:
        raise NotebooksConfigError(f"{path}: cannot read the DAG config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise NotebooksConfigError(f"{path}: malformed YAML: {exc}") from None
    if not isinstance(data, dict):
        got = type(data).__name__
        raise NotebooksConfigError(
            f"{path}: 1 problem(s):\n  - top level: must be a mapping, got {got}"
        )
    problems: list[str] = []
    _validate(TopLevel, data, "", problems)
    cluster = _validate(Cluster, data.get("cluster") or {}, "cluster", problems)
    settings = _validate(Settings, _with_overrides(data.get("settings"), env), "settings", problems)
    defaults = _validate(Defaults, data.get("defaults") or {}, "defaults", problems) or Defaults()
    entries = data.get("notebooks")
    if not isinstance(entries, list) or not entries:
        problems.append("notebooks: must be a non-empty list of entries")
        entries = []
    notebooks = _notebooks(entries, defaults, problems)
    if problems or cluster is None or settings is None:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise NotebooksConfigError(f"{path}: {len(problems)} problem(s):\n{listing}")
    return Config(path=path, cluster=cluster, settings=settings, notebooks=tuple(notebooks))
