"""``python -m core demand generate``: one JSON object, a CSV the readers take back, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.demand import generate_demand, read_capacity, read_demand_csv, read_launches
from tests.test_cli import run_cli


def test_generate_writes_the_hourly_data_and_its_capacity(tmp_path: Path) -> None:
    out, capacity, launches = tmp_path / "hourly.csv", tmp_path / "capacity.csv", tmp_path / "launches.csv"
    result = run_cli("demand", "generate", "--out", str(out), "--freq", "hourly", "--seed", "4",
                     "--capacity-out", str(capacity), "--launches-out", str(launches), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 6 * 3 * 90 * 24 and report["columns"] == ["timestamp", "region", "metric", "value"]
    assert report["metrics"] == {"cpu": "%", "storage": "TB", "users": "users"} and report["missing"] > 0
    expected = generate_demand("hourly", seed=4)
    back = read_demand_csv(out)
    pd.testing.assert_frame_equal(back.panel, expected.panel)
    pd.testing.assert_frame_equal(read_capacity(pd.read_csv(capacity), back), expected.capacity)
    pd.testing.assert_frame_equal(read_launches(pd.read_csv(launches), back), expected.launches)
    assert len(report["launches"]) == 6 and report["launches_csv"] == str(launches)


def test_bad_arguments_exit_2_with_one_error_line(tmp_path: Path) -> None:
    # One refused by the verb (a folder that does not exist), one by the argument parser.
    for args in (["--out", str(tmp_path / "no" / "such" / "dir.csv")],
                 ["--out", str(tmp_path / "x.csv"), "--freq", "weekly"]):
        result = run_cli("demand", "generate", *args, "--json")
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr and result.stdout == ""
