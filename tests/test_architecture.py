"""The floors of docs/architecture.md hold: every import between apps runs down (import-linter's contracts in
pyproject.toml), the contracts name every app, and docs/architecture.md lists the same floors."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _floors() -> list[str]:
    (contract,) = [c for c in _config()["contracts"] if c["id"] == "floors"]
    return contract["layers"]


def _lint(cwd: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_import_runs_down_the_floors():
    result = _lint(ROOT, ROOT / "pyproject.toml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_stands_on_a_floor():
    apps = {p.name for p in (ROOT / "apps").iterdir() if (p / "__init__.py").exists()}
    placed = {name.strip() for floor in _floors() for name in floor.split("|")}

    assert placed == apps


def test_the_documented_floors_are_the_enforced_ones():
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- floors -->\n```\n(.*?)```", text, re.S).group(1)
    documented = [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines() if line.strip()]

    assert documented == _floors()


def test_an_import_running_up_is_caught(tmp_path):
    """The same contracts on a copy of the house where common imports memory: the lint must fail on it."""
    for floor in _floors():
        for name in floor.split("|"):
            package = tmp_path / "apps" / name.strip()
            package.mkdir(parents=True)
            (package / "__init__.py").write_text("")
    (tmp_path / "apps" / "__init__.py").write_text("")
    (tmp_path / "tradeoffice").mkdir()
    (tmp_path / "tradeoffice" / "__init__.py").write_text("")
    for module in ("settings", "connections", "embedded"):
        (tmp_path / "tradeoffice" / f"{module}.py").write_text("")
    (tmp_path / "apps" / "memory" / "recall.py").write_text("")
    shortcut = "def f():\n    from apps.memory import recall\n"  # a function-level import counts too
    (tmp_path / "apps" / "common" / "shortcut.py").write_text(shortcut)
    config = tmp_path / "pyproject.toml"
    config.write_text((ROOT / "pyproject.toml").read_text())

    result = _lint(tmp_path, config)

    assert result.returncode == 1
    assert "apps.common.shortcut -> apps.memory.recall" in result.stdout
