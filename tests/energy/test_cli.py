"""``python -m core energy backtest | simulate`` end to end, in a subprocess like a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.energy.generator import DeviceSpec, generate
from tests.support import ROOT


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", HEADROOM_MODEL_DIR=str(tmp_path / "m"),
               HEADROOM_ENERGY_SEED_HISTORY_DAYS="14", HEADROOM_ENERGY_TRAIN_DAYS="14",
               HEADROOM_ENERGY_SEED_FORECAST_DAYS="1")
    return subprocess.run([sys.executable, "-m", "core", "energy", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _metered_csv(path: Path) -> Path:
    """Half-hourly readings of two meters with day-first dates, shuffled, duplicated, some 'n/a'."""
    ts = pd.date_range("2022-01-01", periods=24 * 30, freq="h", tz="Europe/London")
    rows = []
    for meter, seed in (("MAC001", 1), ("MAC002", 2)):
        values = generate(DeviceSpec(1, "Europe/London", 0.5, "residential", seed), ts.tz_convert("UTC"))
        for stamp, value in zip(ts, values, strict=True):
            rows.append((meter, stamp.strftime("%d-%m-%Y %H:%M"), f"{value:.3f}"))
            rows.append((meter, (stamp + pd.Timedelta(minutes=30)).strftime("%d-%m-%Y %H:%M"), f"{value * 1.01:.3f}"))
    frame = pd.DataFrame(rows, columns=["LCLid", "DateTime", "KWH"]).sample(frac=1, random_state=0)
    frame = pd.concat([frame, frame.head(40)])
    frame.iloc[:3, 2] = "n/a"
    frame.to_csv(path, index=False)
    return path


def test_backtest_on_metered_csv(tmp_path: Path) -> None:
    csv = _metered_csv(tmp_path / "meters.csv")
    out = _run(["backtest", "--csv", str(csv), "--time-col", "DateTime", "--value-col", "KWH",
                "--device-col", "LCLid", "--timezone", "Europe/London", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["devices"] == 2 and [d["device"] for d in result["per_device"]] == ["MAC001", "MAC002"]
    for device in result["per_device"]:
        assert device["n_scored"] > 100
        assert np.isfinite(device["rmse"]) and device["status"] in {"green", "red", "grey"}
        assert device["rmse_ratio"] == device["rmse"] / device["baseline_rmse"]
    assert result["overall"]["rmse_ratio"] < 1.0
    assert any("3 row(s) without a time, a load or a meter were skipped" in n for n in result["notes"])


def test_backtest_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,load\n2024-01-01 00:00,1\n2024-01-01 01:00,-5\n")
    out = _run(["backtest", "--csv", str(bad), "--json"], tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ") and "row 3" in out.stderr and "Traceback" not in out.stderr
    out = _run(["backtest", "--csv", str(tmp_path / "missing.csv"), "--json"], tmp_path)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_simulate_advances_headless(tmp_path: Path) -> None:
    out = _run(["simulate", "--hours", "5", "--devices", "3", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["devices"] == 3 and result["devices_added"] == 1
    assert result["hours"] == 5 and result["readings"] == 15 and result["forecasts"] == 15
    again = json.loads(_run(["simulate", "--hours", "2", "--json"], tmp_path).stdout)
    assert pd.Timestamp(again["sim_time"]) - pd.Timestamp(result["sim_time"]) == pd.Timedelta(hours=2)
