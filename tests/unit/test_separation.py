"""The simulator stands apart: neither it nor the connector imports the other; no pytest in shipped code."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_the_connector_does_not_import_the_simulator_nor_pytest() -> None:
    assert not _imported(REPO / "uniware_source") & {"uniware_simulator", "pytest", "tests", "pipelines"}


def test_the_simulator_does_not_import_the_connector_nor_pytest() -> None:
    assert not _imported(REPO / "tests" / "simulator" / "uniware_simulator") & {"uniware_source", "pytest", "tests"}
