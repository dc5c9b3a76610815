"""tradeoffice-client stands on its own: it imports no app and not the project (it reaches TradeOffice over
the API only), and it never turns an amount into a float on the way out."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from tradeoffice_client import _json, decimal_text

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python" / "src" / "tradeoffice_client"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_client_imports_neither_the_apps_nor_the_project():
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        assert not imported_roots(source) & {"apps", "tradeoffice", "django", "rest_framework"}, source.name


def test_amounts_go_out_as_decimal_strings():
    body = _json.loads(_json.dumps({"price": Decimal("45000.10"), "fee": Decimal("1E-8")}))
    assert body == {"price": "45000.10", "fee": "0.00000001"}
    assert decimal_text(0.1) == "0.1" and decimal_text(45000.1) == "45000.1"
    assert isinstance(_json.loads(b'{"rsi": 27.5}')["rsi"], Decimal)
    with pytest.raises(ValueError):
        _json.dumps({"price": Decimal("NaN")})
    with pytest.raises(ValueError):
        _json.dumps({"price": float("inf")})


def test_the_package_type_checks(tmp_path):
    """It ships py.typed: an agent's own type checker reads its annotations, so they must hold."""
    import subprocess
    import sys

    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", f"--cache-dir={tmp_path}", str(PACKAGE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
