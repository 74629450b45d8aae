"""One module per side knows the Airflow version: nothing else in dags/ or kit/dagtools/
imports a version-dependent Airflow module or asks which version runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPAT = {ROOT / "dags" / "kit_airflow_compat.py", ROOT / "kit" / "dagtools" / "airflow_compat.py"}
SOURCES = sorted(
    {*(ROOT / "dags").glob("*.py"), *(ROOT / "kit" / "dagtools").glob("*.py")} - COMPAT
)
# Same import path on every version: the providers, and the package's own version string.
STABLE = ("airflow.providers.",)
VERSION_NAMES = {"AIRFLOW_V3", "AIRFLOW_VERSION", "__version__"}


def _airflow_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return [name for name in found if name == "airflow" or name.startswith("airflow.")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_compat_module_imports_version_dependent_airflow(path: Path) -> None:
    tree = ast.parse(path.read_text())
    moved = [name for name in _airflow_imports(tree) if not name.startswith(STABLE)]
    assert moved == [], f"{path.name} imports {moved}: import them from the compat module"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & VERSION_NAMES, f"{path.name} branches on the Airflow version"


def test_the_compat_modules_are_where_the_versions_meet() -> None:
    for path in COMPAT:
        imports = _airflow_imports(ast.parse(path.read_text()))
        assert any(name.startswith("airflow.sdk") for name in imports), path
        assert any(not name.startswith("airflow.sdk") and name != "airflow" for name in imports)
