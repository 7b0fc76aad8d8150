"""``python -m core traffic backtest | autoscale | forecast``: JSON contract, outputs, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.support import ROOT
from tests.traffic.synthetic import daily_traffic

FAST = ("--models", "seasonal_naive,naive,lightgbm")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "traffic", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))


@pytest.fixture(scope="module")
def traffic_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("traffic-cli") / "traffic.csv"
    daily_traffic(days=9, freq="15min", seed=5).to_csv(path, index=False)
    return path


def test_backtest_writes_predictions_and_prints_one_json_object(traffic_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    done = run_cli("backtest", "--csv", str(traffic_csv), "--freq", "15min", "--test-start", "2024-03-11",
                   *FAST, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"seasonal_naive", "lightgbm", "ensemble"} <= set(report["metrics"])
    assert {"mae", "rmse", "smape", "mase", "coverage"} <= set(report["metrics"]["lightgbm"])
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["timestamp", "model", "y_true", "y_pred", "lo", "hi"]
    assert preds["timestamp"].min().startswith("2024-03-11 00:00")


def test_autoscale_replays_every_policy(traffic_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "decisions.csv"
    done = run_cli("autoscale", "--csv", str(traffic_csv), "--freq", "1h", "--test-start", "2024-03-11", *FAST,
                   "--capacity-rps", "0.5", "--boot-minutes", "10", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert set(report["policies"]) == {"static", "reactive", "predictive", "predictive+reactive", "oracle"}
    assert report["params"]["capacity_rps"] == 0.5 and report["params"]["boot_minutes"] == 10
    # Per second and per minute whatever the granularity: 1,800 requests per hour, a boot of one whole interval.
    assert report["params"]["interval_minutes"] == 60
    assert report["params"]["capacity_per_interval"] == 1800 and report["params"]["boot_intervals"] == 1
    decisions = pd.read_csv(out)
    assert {"timestamp", "load", "servers_oracle"} <= set(decisions.columns)
    assert f"q{100 * report['quantile']:g} forecast" in decisions.columns


def test_the_old_per_interval_flags_still_work_with_a_note_on_stderr(traffic_csv: Path) -> None:
    done = run_cli("autoscale", "--csv", str(traffic_csv), "--freq", "15m", "--test-start", "2024-03-11", *FAST,
                   "--capacity-per-server", "60", "--boot-delay", "1", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # still exactly one JSON object on stdout
    assert report["params"]["capacity_per_interval"] == pytest.approx(60)
    assert report["params"]["capacity_rps"] == pytest.approx(60 / 900) and report["params"]["boot_minutes"] == 15
    assert "--capacity-per-server is deprecated" in done.stderr and "--capacity-rps 0.06667" in done.stderr
    assert "--boot-delay is deprecated" in done.stderr and "--boot-minutes 15" in done.stderr
    oracle = report["policies"]["oracle"]["cost_total"]
    assert all(p["cost_total"] >= oracle - 1e-9 for p in report["policies"].values() if p["meets_slo"])


def test_autoscale_takes_an_slo(traffic_csv: Path) -> None:
    done = run_cli("autoscale", "--csv", str(traffic_csv), "--freq", "1h", "--test-start", "2024-03-11", *FAST,
                   "--slo-overload-pct", "5", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["params"]["slo_overload_pct"] == 5
    assert report["policies"]["oracle"]["overloaded_pct"] <= 5 and report["policies"]["oracle"]["meets_slo"]
    assert report["quantile"] == report["slo_quantile"]
    # Chosen before the test window, and the JSON says on which window; the frontier is hindsight only.
    assert report["quantile_chosen_on"]["window"] == "calibration"
    assert report["quantile_chosen_on"]["end"].startswith("2024-03-11 00:00")
    assert report["quantile_chosen_on"]["start"] < report["test_start"]
    assert "calibration window" in report["quantile_chosen_on"]["text"]
    assert report["hindsight_slo_quantile"] in {row["quantile"] for row in report["frontier"]}
    assert "in hindsight on the test window" in report["frontier_note"]
    assert "SLO" in report["headline"]
    bad = run_cli("autoscale", "--csv", str(traffic_csv), "--freq", "1h", *FAST, "--slo-overload-pct", "120", "--json")
    assert bad.returncode == 2 and bad.stderr.startswith("error: the SLO must be") and bad.stdout == ""


def test_forward_forecast(traffic_csv: Path) -> None:
    done = run_cli("forecast", "--csv", str(traffic_csv), "--freq", "1h", "--steps", "6", "--models", "lightgbm",
                   "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["forecast"]) == 6 and report["from"].startswith("2024-03-13 00:00")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _rows(n: int, value: str = "{i}", sep: str = ",", stamp: str = "2024-01-01 {h:02d}:{m:02d}:00") -> str:
    return "".join(f"{stamp.format(h=i // 12, m=5 * (i % 12))}{sep}{value.format(i=i + 10)}\n" for i in range(n))


BAD = {
    "empty.csv": (b"", "empty"),
    "header.csv": (b"timestamp,requests\n", "no data rows"),
    "binary.csv": (bytes(range(256)) * 4, "binary data"),
    "one_row.csv": (("timestamp,requests\n" + _rows(1)).encode(), "at least 3"),
    "negative.csv": (("timestamp,requests\n" + _rows(5, "-{i}")).encode(), "cannot be negative"),
    "text.csv": (("timestamp,requests\n" + _rows(5, "n/a{i}")).encode(), "not a number"),
    "no_count.csv": (("timestamp,label\n" + _rows(5, "x{i}")).encode(), "no request-count column"),
    "bad_time.csv": (("timestamp,requests\n" + _rows(5) + "yesterday,4\n").encode(), "not a date/time"),
    "mixed_tz.csv": ((b"timestamp,requests\n2024-01-01 00:00:00+01:00,4\n2024-01-01 00:05:00,5\n"
                      b"2024-01-01 00:10:00,6\n"), "with and without a time-zone"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_with_one_line(tmp_path: Path, name: str) -> None:
    data, message = BAD[name]
    path = _write(tmp_path, name, data)
    done = run_cli("backtest", "--csv", str(path), "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_too_short_history_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "short.csv", ("timestamp,requests\n" + _rows(30)).encode())
    done = run_cli("backtest", "--csv", str(path), "--freq", "5m", "--json")
    assert done.returncode == 2 and "not enough history" in done.stderr


@pytest.mark.parametrize("name, encode", [
    ("semicolon_decimal_comma.csv", lambda rows: ("timestamp;requests\n" + rows.replace(",", ";")).encode()),
    ("bom_crlf.csv", lambda rows: ("\ufefftimestamp,requests\r\n" + rows.replace("\n", "\r\n")).encode("utf-8")),
    ("latin1.csv", lambda rows: ("timestamp,requests,région\n" + rows.replace("\n", ",é\n")).encode("latin-1")),
])
def test_awkward_but_valid_files_are_read(tmp_path: Path, name: str, encode) -> None:
    df = daily_traffic(days=5, freq="1h", seed=1)
    rows = "".join(f"{t},{v}\n" for t, v in zip(df["timestamp"], df["request_count"], strict=True))
    path = _write(tmp_path, name, encode(rows))
    done = run_cli("backtest", "--csv", str(path), "--freq", "1h", *FAST, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["lightgbm"]["n"] > 0


def test_gaps_and_epoch_seconds_and_constant_series(tmp_path: Path) -> None:
    base = 1_709_251_200  # 2024-03-01 00:00 UTC
    rows = [(base + 3600 * i, 50) for i in range(24 * 6) if not 30 <= i < 36]
    path = _write(tmp_path, "epoch_constant.csv", ("ts,count\n" + "".join(f"{t},{v}\n" for t, v in rows)).encode())
    done = run_cli("backtest", "--csv", str(path), "--freq", "1h", *FAST, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert any("no data" in n for n in report["notes"]) and any("constant" in n for n in report["notes"])
    assert report["metrics"]["lightgbm"]["rmse"] == pytest.approx(0.0, abs=1e-6)


def test_long_zero_runs_are_missing_unless_kept(tmp_path: Path) -> None:
    df = daily_traffic(days=9, freq="1h", seed=3)
    df.loc[48:48 + 71, "request_count"] = 0  # three days with no requests at all: a log that stopped
    path = tmp_path / "gap.csv"
    df.to_csv(path, index=False)
    done = run_cli("backtest", "--csv", str(path), "--freq", "1h", *FAST, "--json")
    assert done.returncode == 0, done.stderr
    assert any("collection gap" in note for note in json.loads(done.stdout)["notes"])
    kept = run_cli("backtest", "--csv", str(path), "--freq", "1h", *FAST, "--zero-runs-as-traffic", "--json")
    assert kept.returncode == 0, kept.stderr
    assert any("kept as traffic" in note for note in json.loads(kept.stdout)["notes"])


def test_a_series_of_nothing_but_zeros_says_so(tmp_path: Path) -> None:
    df = daily_traffic(days=9, freq="1h", seed=3).assign(request_count=0)
    path = tmp_path / "zeros.csv"
    df.to_csv(path, index=False)
    for verb in ("backtest", "autoscale"):
        done = run_cli(verb, "--csv", str(path), "--freq", "1h", *FAST, "--json")
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "every value is zero" in done.stderr and "collection gap" in done.stderr
        assert "--zero-runs-as-traffic" in done.stderr and "Treat long zero runs as traffic" in done.stderr
        assert "0 complete intervals" not in done.stderr


def test_exported_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    df = daily_traffic(days=5, freq="1h", seed=2)
    df["note"] = "=HYPERLINK(\"http://x\")"
    src = tmp_path / "formula.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "fwd.csv"
    done = run_cli("forecast", "--csv", str(src), "--freq", "1h", "--steps", "3", "--models", "lightgbm",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "=" not in out.read_text().split("\n")[1][:1]
