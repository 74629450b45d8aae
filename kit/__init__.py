"""kit: publish, run and review Prophet forecasting notebooks on Google Cloud.

The notebook-facing API is loaded lazily, so `import kit` stays cheap and has
no side effects (it is imported by every run's kernel and by the Airflow side).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "record": ("kit.metrics", "record"),
    "env_check": ("kit.envcheck", "check"),
    "runs": ("kit.review", "runs"),
    "load_run": ("kit.review", "load_run"),
    "publish": ("kit.publishing", "publish"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'kit' has no attribute {name!r}")
