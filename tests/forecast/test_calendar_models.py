"""Prophet as a Forecaster: a country's public holidays, yearly seasonality from two years of history, and
the traffic defaults (daily and weekly shape for sub-daily data) unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.calendar import holiday_flags
from core.forecast.calendar_models import ProphetModel
from core.forecast.protocol import Seasons

ORIGIN = pd.Timestamp("2024-06-27")


def _us_demand() -> pd.Series:
    """Daily demand 30% lower on every US public holiday, with weekly and yearly cycles."""
    index = pd.date_range("2022-01-01", "2024-07-31", freq="D")
    t = np.arange(len(index))
    shape = 100 + 0.02 * t + 8 * np.sin(2 * np.pi * t / 7) + 10 * np.sin(2 * np.pi * t / 365.25)
    noise = np.random.default_rng(1).normal(0, 1.5, len(index))
    return pd.Series(shape * (1 - 0.3 * holiday_flags(index, "US")) + noise, index=index)


def _around_july_4th(model: ProphetModel, y: pd.Series) -> pd.Series:
    forecast = model.forecast(y, pd.DatetimeIndex([ORIGIN]), 14)[0]
    return pd.Series(forecast, index=pd.date_range(ORIGIN + pd.Timedelta(days=1), periods=14, freq="D"))


def test_a_country_marks_its_public_holidays() -> None:
    y = _us_demand()
    model = ProphetModel(country="US").fit(y.loc[:ORIGIN], Seasons((7, 365)))
    with_us = _around_july_4th(model, y)
    np.testing.assert_array_equal(_around_july_4th(model, y.loc[:ORIGIN]), with_us)  # the calendar only
    without = _around_july_4th(ProphetModel().fit(y.loc[:ORIGIN], Seasons((7, 365))), y)
    july_4th, neighbours = with_us["2024-07-04"], with_us[["2024-07-03", "2024-07-05"]].mean()
    assert july_4th < 0.8 * neighbours  # the 30% dip, learnt from two earlier July 4ths
    assert abs(july_4th - y["2024-07-04"]) < 0.1 * y["2024-07-04"]
    assert without["2024-07-04"] > 0.9 * without[["2024-07-03", "2024-07-05"]].mean()  # no holiday, no dip


def test_yearly_seasonality_needs_two_years_unless_asked_for() -> None:
    y = _us_demand()
    assert ProphetModel().fit(y, Seasons((7, 365))).model.yearly_seasonality is True
    short = y.iloc[:500]
    assert ProphetModel().fit(short, Seasons((7,))).model.yearly_seasonality is False
    assert ProphetModel(yearly=True).fit(short, Seasons((7,))).model.yearly_seasonality is True


def test_sub_daily_data_keeps_the_traffic_defaults() -> None:
    index = pd.date_range("2024-03-01", periods=24 * 14, freq="h", tz="America/New_York")
    y = pd.Series(50 + 20 * np.sin(2 * np.pi * np.arange(len(index)) / 24), index=index)
    model = ProphetModel().fit(y, Seasons((24, 168))).model
    assert set(model.seasonalities) == {"daily", "weekly"} and model.seasonality_mode == "multiplicative"
    assert model.country_holidays is None
    daily = ProphetModel().fit(_us_demand().iloc[:200], Seasons((7,))).model
    assert set(daily.seasonalities) == {"weekly"}  # a daily shape means nothing at one point a day


def test_an_unknown_country_is_an_input_error() -> None:
    y = _us_demand().iloc[:100]
    with pytest.raises(InputError, match="XX"):
        ProphetModel(country="XX").fit(y, Seasons((7,)))


def test_forecasts_from_several_origins_match_each_origin_alone() -> None:
    """Prophet sorts what it predicts by time; with several origins the flattened targets are not in time
    order, and each forecast must still land on its own target (it once came back shifted by days)."""
    y = _us_demand()
    model = ProphetModel().fit(y.loc[:ORIGIN], Seasons((7, 365)))
    origins = pd.DatetimeIndex([ORIGIN - pd.Timedelta(days=10), ORIGIN - pd.Timedelta(days=3), ORIGIN])
    together = model.forecast(y, origins, 7)
    for row, origin in enumerate(origins):
        np.testing.assert_allclose(together[row], model.forecast(y, pd.DatetimeIndex([origin]), 7)[0])
