"""The command-line contract: --help, info --json, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_help_lists_domains() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "info" in result.stdout


def test_info_json_is_one_object_with_versions_storage_and_datasets() -> None:
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["versions"]["pandas"]
    assert info["storage"].startswith("SQLite file")
    files = {d["file"]: d for d in info["datasets"]}
    assert files["nasa_http_5m.csv"]["rows"] == 17856
    assert files["nasa_http_5m.csv"]["start"].startswith("1995-07-01 00:00:00-04:00")
    assert files["eda_stage_runs.csv"]["rows"] == 13703


def test_info_masks_a_postgres_password() -> None:
    result = run_cli("info", "--json", env={"DATABASE_URL": "postgresql://u:hunter2@db.example:5432/h"})
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "db.example" in result.stdout


def test_unknown_command_exits_2_with_one_error_line() -> None:
    result = run_cli("no-such-domain")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_database_url_exits_2_without_traceback() -> None:
    result = run_cli("info", "--json", env={"DATABASE_URL": "nonsense://"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stdout == ""
