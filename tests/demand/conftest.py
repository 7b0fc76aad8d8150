"""Demand fixtures: the generated data, built once per test session (it is deterministic)."""

from __future__ import annotations

import pytest

from core.demand import DemandData, generate_demand


@pytest.fixture(scope="session")
def daily() -> DemandData:
    return generate_demand("daily", seed=17)


@pytest.fixture(scope="session")
def hourly() -> DemandData:
    return generate_demand("hourly", seed=17)
