"""Whole-page refresh while background work runs (streamlit-autorefresh).

Two mechanisms, each where it fits:
- ``follow_background_work`` (this module, streamlit-autorefresh) reruns a *whole page* on a
  timer, and only while something in the background changes what that page shows: Home's
  status lines and the Models page follow the energy simulation (it writes readings, health and
  retrained models) and background training jobs.
- ``st.fragment(run_every=...)`` reruns *part* of a page: the energy page's live panel refreshes
  alone, so its admin forms keep what the user is typing.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit_autorefresh import st_autorefresh

from core.energy.config import PAGE as ENERGY_PAGE
from core.energy.simulator import running_simulators

# A whole page reruns, not a fragment: never more often than this, even at demo speed.
MIN_PAGE_SECONDS = 5.0


def _energy_seconds() -> float | None:
    simulators = running_simulators()
    if not simulators:
        return None
    speed = max(s.speed for s in simulators)
    if speed <= 0:
        return ENERGY_PAGE.refresh_real_time_seconds
    return max(MIN_PAGE_SECONDS, 60.0 / speed)


# Each source says how often its work changes the page (seconds), or None while it is idle.
SOURCES: list[tuple[str, Callable[[], float | None]]] = [("energy simulation", _energy_seconds)]


def background_work() -> dict[str, float]:
    """The background work running in this process, with how often each changes what pages show."""
    found = {}
    for name, seconds in SOURCES:
        value = seconds()
        if value is not None:
            found[name] = value
    return found


def follow_background_work(key: str = "follow-background") -> list[str]:
    """Rerun the whole page on a timer while background work runs; returns what is followed."""
    work = background_work()
    if work:
        st_autorefresh(interval=int(min(work.values()) * 1000), key=key)
        st.caption(f":material/autorenew: Following {', '.join(work)}: this page refreshes every "
                   f"{min(work.values()):.0f} s.")
    return list(work)
