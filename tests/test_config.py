from pathlib import Path

import pytest

from core.config import get_settings


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DATABASE_URL", "HEADROOM_STATE_DIR", "HEADROOM_MODEL_DIR", "HEADROOM_SIM_SPEED"):
        monkeypatch.delenv(key, raising=False)
    settings = get_settings()
    assert settings.is_sqlite and settings.database_url.endswith("headroom.db")
    assert settings.model_dir.name == "models" and (settings.data_dir / "nasa_http_5m.csv").exists()
    assert settings.sim_speed == 0.0


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    settings = get_settings({"DATABASE_URL": "postgres://u:p@h/db", "HEADROOM_SIM_SPEED": "60"})
    assert settings.database_url == "postgresql://u:p@h/db"
    assert settings.sim_speed == 60.0 and not settings.is_sqlite


def test_bad_numbers_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_SIM_SPEED", "fast")
    with pytest.raises(ValueError, match="HEADROOM_SIM_SPEED"):
        get_settings()


def test_model_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(tmp_path))
    assert get_settings().model_dir == tmp_path
