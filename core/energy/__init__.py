"""Energy Device Health: simulated metered devices, next-hour forecasts and a model-health grid."""
