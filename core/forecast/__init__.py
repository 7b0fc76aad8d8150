"""The shared forecasting layer: panels, seasons from the frequency, one Forecaster protocol,
rolling-origin backtests with refits, conformal and adaptive intervals, recent-error ensembles
and honest per-series selection. Pure: data in, forecasts out (no Streamlit, no storage)."""
