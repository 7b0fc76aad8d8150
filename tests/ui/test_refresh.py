"""Home (and the Models page) follow background work with a whole-page autorefresh."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

import core.ui.refresh as refresh
from tests.support import ROOT


def _home() -> AppTest:
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()


def _following(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "Following" in c.value]


def test_home_does_not_refresh_while_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refresh, "running_simulators", lambda: [])
    at = _home()
    assert not at.exception
    assert _following(at) == []


@pytest.mark.parametrize(("speed", "seconds"), [(0.0, "30 s"), (60.0, "5 s"), (2.0, "30 s")])
def test_home_refreshes_while_the_energy_simulation_runs(monkeypatch: pytest.MonkeyPatch, speed: float,
                                                         seconds: str) -> None:
    monkeypatch.setattr(refresh, "running_simulators", lambda: [SimpleNamespace(speed=speed)])
    at = _home()
    assert not at.exception
    assert _following(at) == [f":material/autorenew: Following energy simulation: this page refreshes every {seconds}."]
