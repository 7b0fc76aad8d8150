"""``python -m core models list | show | delete``: the registry of every domain from a shell."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from typing import Any

from core.automl.jobs import JobRegistry
from core.cli import add_json_flag
from core.config import get_settings
from core.errors import InputError
from core.ml.registry import ModelRegistry
from core.models import service
from core.models.config import TABLE_COLUMNS
from core.storage import create_db_engine


def _registry() -> ModelRegistry:
    settings = get_settings()
    return ModelRegistry(create_db_engine(settings.database_url), settings.model_dir)


def _automl() -> JobRegistry:
    """The AutoML job registry: its finished jobs are models of domain ``automl``."""
    settings = get_settings()
    return JobRegistry(create_db_engine(settings.database_url), settings.model_dir)


def _catalog() -> service.Catalog:
    """Both registries' models; when the AutoML one cannot be read, the others and why."""
    return service.catalog(_registry(), service.open_automl_jobs(_automl))


def _list(args: argparse.Namespace) -> dict[str, Any]:
    found = _catalog()
    table = found.table(args.domain)
    rows = []
    for row in table.to_dict("records"):
        fields = {k: row[k] for k in TABLE_COLUMNS}
        fields["created_at"] = fields["created_at"].isoformat()
        fields["size_mb"] = round(float(fields["size_mb"]), 3)
        metrics = {k: v for k, v in row.items() if k not in TABLE_COLUMNS and not _missing(v)}
        # The human listing stays one line per model; --json carries every flattened metric.
        rows.append({**fields, "metrics": metrics} if args.json else fields)
    listed = {"domain": args.domain, "count": len(rows), "models": rows}
    return {**listed, "warning": found.problem} if found.problem else listed


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _show(args: argparse.Namespace) -> dict[str, Any]:
    details = service.describe(_registry(), args.model_id, automl=service.open_automl_jobs(_automl))
    if not args.json:
        # Nested breakdowns (per stage, per history) are long: the terminal gets the numeric headline.
        details["metrics"] = service.flatten_numbers(details["metrics"])
        details["params"] = {k: v for k, v in details["params"].items() if not isinstance(v, (dict, list))}
    return details


def _delete(args: argparse.Namespace) -> dict[str, Any]:
    try:
        change = service.delete(_registry(), args.model_id, confirm_deployed=args.yes,
                                automl=service.open_automl_jobs(_automl))
    except service.ConfirmationNeeded as exc:
        raise InputError(f"{exc.what}: pass --yes to delete it anyway") from None
    return asdict(change)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = subparsers.add_parser("models", help="every trained model of every domain: list, show, delete")
    verbs = models.add_subparsers(dest="verb", metavar="<verb>", parser_class=type(models))
    models.set_defaults(handler=lambda _args: models.print_help() or {})

    listing = verbs.add_parser("list", help="every domain's models (AutoML: its finished jobs), newest first")
    listing.add_argument("--domain", help="only this domain's models (e.g. energy, jobs)")
    add_json_flag(listing)
    listing.set_defaults(handler=_list)

    show = verbs.add_parser("show", help="one model's row, parameters, metrics and artifact")
    show.add_argument("model_id", metavar="MODEL_ID")
    add_json_flag(show)
    show.set_defaults(handler=_show)

    remove = verbs.add_parser("delete", help="remove a model's artifact files and its registry row")
    remove.add_argument("model_id", metavar="MODEL_ID")
    remove.add_argument("--yes", action="store_true", help="confirm deleting a deployed model")
    add_json_flag(remove)
    remove.set_defaults(handler=_delete)
