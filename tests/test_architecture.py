"""Guards that keep the layers apart, read from the AST of every module (no import is executed).

pages / Home.py -> core.ui -> core.<domain> (and core.app) -> core.forecast, core.ml, core.storage,
core.io -> core.config. Domains never import each other, except an aggregator (core.models: every
domain's models on one page and one CLI), which may import the domains and which no domain imports;
Streamlit lives only in pages/, Home.py and core/ui; SQL (SQLAlchemy beyond the Engine/Connection
types) lives only in core/storage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

DOMAINS = {"traffic", "demand", "energy", "jobs", "automl", "models", "app"}
AGGREGATORS = {"models"}  # domains that list other domains' models: they import those, never the reverse
BASE = {"config", "errors"}
LIBRARY = {"io", "ml", "storage", "forecast", "datasets", "cli", "__main__"}
STREAMLIT = ("streamlit", "streamlit_autorefresh")
SQL_TYPES_ALLOWED = {"Engine", "Connection"}


def _modules() -> list[Path]:
    files = [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "core").rglob("*.py"))]
    return [f for f in files if f.exists()]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in the file, nested ones too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def _layer(module: str) -> tuple[int, str | None]:
    """(rank, domain) of a module of this project: a higher rank may import a lower one."""
    parts = module.split(".")
    if parts[0] in ("Home", "pages"):
        return 4, None
    if parts[0] != "core":
        return -1, None
    if len(parts) == 1:
        return 0, None
    top = parts[1]
    if top == "ui":
        return 3, None
    if top in DOMAINS:
        return 2, top
    if top in LIBRARY:
        return 1, None
    if top in BASE:
        return 0, None
    raise AssertionError(f"{module}: core.{top} is in no layer; add it to tests/test_architecture.py")


def _violations() -> list[str]:
    problems = []
    for path in _modules():
        me = _module_name(path)
        rank, domain = _layer(me)
        for target, names, line in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if target.split(".")[0] in STREAMLIT and rank not in (3, 4):
                problems.append(f"{where} imports {target}: Streamlit belongs in pages/, Home.py and core/ui")
            if target.split(".")[0] == "sqlalchemy" and not me.startswith("core.storage"):
                extra = set(names) - SQL_TYPES_ALLOWED if target == "sqlalchemy" else {target}
                if extra or not names:
                    problems.append(f"{where} imports {target} {sorted(extra)}: SQL lives in core/storage")
            if target == "core" or target.startswith("core."):
                # `from core import x` names submodules: judge each as core.x
                targets = [f"core.{n}" for n in names] if target == "core" else [target]
                for t in targets:
                    their_rank, their_domain = _layer(t)
                    if their_rank > rank:
                        problems.append(f"{where} imports {t}: an upward import")
                    if domain and their_domain and their_domain != domain:
                        if their_domain in AGGREGATORS:
                            problems.append(f"{where} imports {t}: no domain imports an aggregator")
                        elif domain not in AGGREGATORS:
                            problems.append(f"{where} imports {t}: domains never import each other")
                    if rank >= 3 and t.startswith("core.storage"):
                        problems.append(f"{where} imports {t}: pages and core/ui reach storage through services")
                    if me.startswith("core.forecast") and t.startswith(("core.storage", "core.ml.registry")):
                        problems.append(f"{where} imports {t}: the forecasting core is pure (data in, forecasts out)")
    return problems


def test_no_module_imports_against_the_layers() -> None:
    problems = _violations()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from core.storage import mask_url\n", "reach storage through services"),
        ("import streamlit as st\n", "Streamlit belongs"),
        ("from core.jobs.service import prepare\n", "domains never import each other"),
        ("from core.models.service import model_table\n", "no domain imports an aggregator"),
        ("from core.ui.format import number\n", "an upward import"),
        ("from sqlalchemy import select\n", "SQL lives in core/storage"),
    ],
)
def test_the_guard_catches_each_kind_of_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  source: str, expected: str) -> None:
    # A page importing storage, a domain importing Streamlit or another domain or the UI, SQL outside storage.
    page = "pages" if "storage" in source else "core/traffic"
    fake_root = tmp_path
    target = fake_root / page / "bad.py"
    target.parent.mkdir(parents=True)
    target.write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    assert any(expected in p for p in _violations()), _violations()


def test_no_page_file_is_longer_than_a_short_story() -> None:
    long = {p.name: n for p in (ROOT / "pages").glob("*.py") if (n := len(p.read_text().splitlines())) > 150}
    assert not long, f"pages over 150 lines (logic is leaking into them): {long}"
