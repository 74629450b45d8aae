"""The value types of notebooks.yaml: pydantic types carrying Kubernetes' and kit's rules.

pydantic checks structure and the usual types; the validators here add what only
Kubernetes or kit knows (quantities, label syntax, durations, taints). Each failure is a
PydanticCustomError of type "kit" whose message is shown as is, after the file and key.
Only the standard library and pydantic (which every Airflow release depends on).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
VERSION_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{12}")
LABEL_NAME_RE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
LABEL_PREFIX_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
QUANTITY_RE = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[mkMGTPE]|[KMGTPE]i)?")
DURATION_RE = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
TAINT_RE = re.compile(r"([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)")
BUCKET_RE = re.compile(r"(gs|file)://\S+|/\S*")
# An address a mail server takes: local@domain.tld, no spaces, commas or angle brackets.
EMAIL_RE = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
WEB_URL_RE = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
CONN_ID_RE = re.compile(r"[A-Za-z0-9_.-]+")
# Labels kit sets on every pod itself; a config may not redefine them.
RESERVED_LABELS = {"notebook", "notebook-version", "app.kubernetes.io/name"}
KIT_ERROR = "kit"


def fail(message: str) -> NoReturn:
    """Reject a value with kit's own message (braces in it are kept as they are)."""
    raise PydanticCustomError(KIT_ERROR, "{message}", {"message": message})


def _name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        fail(f"{value!r} must match {NAME_RE.pattern}")
    return value


def _version(value: str) -> str:
    if value != "latest" and not VERSION_RE.fullmatch(value):
        fail(f"{value!r} must be 'latest' or like 20260101T000000Z-0123456789ab")
    return value


def _kubernetes_name(value: str) -> str:
    if not value or not LABEL_NAME_RE.fullmatch(value):
        fail(f"{value!r} is not a valid Kubernetes name")
    return value


def _taint(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a (key, value, effect) tuple already; anything else fails as a tuple
    match = TAINT_RE.fullmatch(value)
    if match is None:
        fail(f"{value!r} must look like key=value:NoSchedule")
    return (match.group(1), match.group(2) or "", match.group(3))


def _duration(value: Any) -> Any:
    """Seconds from an int or a string such as '90s', '15m', '1h30m'."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = DURATION_RE.fullmatch(value) if isinstance(value, str) and value else None
    factors = (3600, 60, 1)
    seconds = (
        sum(int(g or 0) * f for g, f in zip(match.groups(), factors, strict=True)) if match else 0
    )
    if seconds <= 0:
        fail(f"{value!r} is not a positive duration (seconds, or like '90s', '15m', '2h')")
    return seconds


def _scalar(value: Any) -> Any:
    """A parameter value as the string the CLI receives (bools the way Python spells them)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return str(value)
    fail(f"must be a string or a number, got {type(value).__name__}")


def _identifier(value: str) -> str:
    if not value.isidentifier() or not value.isascii():
        fail(f"parameter name {value!r} is not a Python identifier")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {value!r}")
    return value


def _label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if (
        not name
        or not LABEL_NAME_RE.fullmatch(name)
        or (prefix and not LABEL_PREFIX_RE.fullmatch(prefix))
    ):
        fail(f"label key {key!r} is not a valid Kubernetes label key")
    if key in RESERVED_LABELS:
        fail(f"label {key!r} is set by kit itself")
    return key


def _label_value(value: str) -> str:
    if not LABEL_NAME_RE.fullmatch(value):
        fail(f"{value!r} is not a label value (<= 63 of A-Za-z0-9-_., alphanumeric at the ends)")
    return value


def _quantity(value: str) -> str:
    if not QUANTITY_RE.fullmatch(value):
        fail(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return value


def _bucket(value: str) -> str:
    if not BUCKET_RE.fullmatch(value):
        fail(f"{value!r} must be a gs:// URL")
    return value.rstrip("/")


def _email(value: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        fail(f"{value!r} is not an e-mail address (like name@example.com)")
    return value


def _web_url(value: str) -> str:
    if not WEB_URL_RE.fullmatch(value):
        fail(f"{value!r} must be an http(s):// URL with no query or fragment")
    return value.rstrip("/")


def _conn_id(value: str) -> str:
    if not CONN_ID_RE.fullmatch(value):
        fail(f"{value!r} is not an Airflow connection id")
    return value


def _distinct(items: list[dict[str, str]]) -> list[dict[str, str]]:
    for index, item in enumerate(items):
        if item in items[:index]:
            fail(f"item {index} repeats item {items.index(item)}")
    return items


Name = Annotated[str, AfterValidator(_name)]
Version = Annotated[str, AfterValidator(_version)]
KubernetesName = Annotated[str, AfterValidator(_kubernetes_name)]
Taint = Annotated[tuple[str, str, str], BeforeValidator(_taint)]
Duration = Annotated[int, BeforeValidator(_duration)]
Count = Annotated[int, Strict(), Field(ge=0)]
PositiveCount = Annotated[int, Strict(), Field(ge=1)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Text = Annotated[str, Field(min_length=1)]
Bucket = Annotated[str, AfterValidator(_bucket)]
Scalar = Annotated[str, BeforeValidator(_scalar)]
ParamName = Annotated[str, AfterValidator(_identifier)]
Params = dict[ParamName, Scalar]
FanOut = Annotated[
    list[Annotated[Params, Field(min_length=1)]], Field(min_length=1), AfterValidator(_distinct)
]
Labels = dict[
    Annotated[str, AfterValidator(_label_key)],
    Annotated[str, BeforeValidator(_scalar), AfterValidator(_label_value)],
]
Tags = Annotated[list[Text], AfterValidator(lambda tags: list(dict.fromkeys(tags)))]
Quantity = Annotated[str, BeforeValidator(_scalar), AfterValidator(_quantity)]
ResourceName = Literal["cpu", "memory", "ephemeral-storage"]
EmailAddress = Annotated[str, AfterValidator(_email)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
ConnId = Annotated[str, AfterValidator(_conn_id)]
LogFormat = Literal["auto", "text", "json"]
NotifyEvent = Literal["failure", "recovery"]
ClusterMode = Literal["in_cluster", "kubeconfig", "gke"]
