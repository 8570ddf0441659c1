"""The dependency direction is one-way: domain <- gateway, serving, components <- pipelines <- devkit, CLI.

Every import statement of every module (at any depth, including those inside functions) is read from
the source, so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("hibachi", "gateway", "serving", "components", "pipelines", "devkit", "hibachi_cli")
# What each package may import from the project, besides itself.
ALLOWED = {
    "hibachi": set(),
    "gateway": {"hibachi"},
    "serving": {"hibachi"},
    "components": {"hibachi", "serving"},
    "pipelines": {"hibachi", "components"},
    "devkit": {"hibachi", "gateway", "serving", "components", "pipelines"},
    "hibachi_cli": {"hibachi", "gateway", "serving", "components", "pipelines", "devkit"},
}


def project_imports(path: Path) -> set[tuple[str, int]]:
    """(top-level project package, line) for every import in a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((name.split(".")[0], node.lineno) for name in names if name.split(".")[0] in PROJECT)
    return found


def violations(package: str) -> list[str]:
    allowed = ALLOWED[package] | {package}
    return [f"{path.relative_to(ROOT)}:{line} imports {imported}"
            for path in sorted((ROOT / package).rglob("*.py"))
            for imported, line in sorted(project_imports(path)) if imported not in allowed]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_a_layer_above_it(package):
    assert violations(package) == []


def test_the_checker_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from devkit.loop import command\n    import gateway.app\n")
    assert project_imports(module) == {("devkit", 2), ("gateway", 3)}


BLOCK_DEVKIT = """
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("devkit", "hibachi_cli"):
            raise ImportError(f"{name} is not in production images")
        return None

sys.meta_path.insert(0, Refuse())
import runpy
sys.argv = [sys.argv[1], "--help"]
runpy.run_module(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("entry_point", ["serving", "gateway"])
def test_production_entry_points_run_without_the_dev_kit(entry_point):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", BLOCK_DEVKIT, entry_point], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage" in result.stdout
