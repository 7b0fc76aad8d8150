"""Command line: ``python -m core <domain> <verb> [options]``.

Contract (benchmarks and users script it): inputs are CSV files or a database
URL + table; outputs are CSV files and, with ``--json``, exactly one JSON object
on stdout. Exit 0 on success; bad input exits 2 with one ``error: ...`` line on
stderr and no traceback.

Each domain adds its verbs in ``core/<domain>/cli.py`` through
``register(subparsers)``; a verb's handler takes the parsed args and returns a
dict (printed with ``--json``, summarised otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import json
import logging
import math
import pkgutil
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any

import core
from core.config import get_settings
from core.errors import HeadroomError

Handler = Callable[[argparse.Namespace], dict[str, Any]]
_REPORTED_PACKAGES = (
    "streamlit", "pandas", "numpy", "scikit-learn", "xgboost", "lightgbm",
    "prophet", "tensorflow-cpu", "SQLAlchemy", "psycopg2-binary", "plotly",
)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors as one 'error: ...' line and exits 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _print_human(result: dict[str, Any], indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{pad}{key}:")
            _print_human(value, indent + 1)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{pad}{key}:")
            for item in value:
                print(f"{pad}  - " + ", ".join(f"{k}={_fmt(v)}" for k, v in item.items()))
        else:
            print(f"{pad}{key}: {_fmt(value)}")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _info(_args: argparse.Namespace) -> dict[str, Any]:
    from core.datasets import summarize_bundled
    from core.storage import create_db_engine, describe_backend

    settings = get_settings()
    versions: dict[str, str | None] = {"python": platform.python_version(), "headroom": core.__version__}
    for package in _REPORTED_PACKAGES:
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "storage": describe_backend(create_db_engine(settings.database_url)),
        "model_dir": str(settings.model_dir),
        "datasets": [summary.__dict__ for summary in summarize_bundled(settings.data_dir)],
    }


def _domain_modules() -> list[Any]:
    modules = []
    for package in pkgutil.iter_modules(core.__path__):
        if not package.ispkg:
            continue
        try:
            modules.append(importlib.import_module(f"core.{package.name}.cli"))
        except ModuleNotFoundError as exc:
            if exc.name != f"core.{package.name}.cli":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="python -m core", description="Headroom: forecasts and capacity decisions.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="domain", metavar="<domain>", parser_class=_ArgumentParser)
    info = sub.add_parser("info", help="versions, storage backend and bundled data sets")
    add_json_flag(info)
    info.set_defaults(handler=_info)
    for module in _domain_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.domain is None else 2
    try:
        result = handler(args)
    except HeadroomError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(_clean(result)) + "\n")
    else:
        _print_human(_clean(result))
    return 0
