"""Models across domains: one table of every trained model, side-by-side comparison, and the
deploy / retire / delete actions the Models page and ``python -m core models`` share."""
