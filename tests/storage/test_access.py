"""The database policy behind every user-chosen source and output (HEADROOM_ALLOW_TYPED_DB_URLS)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.config import get_settings
from core.errors import InputError
from core.storage.access import allowed_named_urls, check_user_url


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    base = get_settings({"HEADROOM_STATE_DIR": str(tmp_path / "state"),
                         "DATABASE_URL": "postgresql://app:s3cret@db:5432/headroom",
                         "database_urls": {"warehouse": "postgresql://ro:pw@wh:5432/runs"}})
    return base


def test_typed_urls_are_allowed_by_default_for_a_local_run(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.allow_typed_db_urls is True
    assert check_user_url("postgresql://me:pw@elsewhere/db", settings) == "postgresql://me:pw@elsewhere/db"


def test_shared_mode_allows_only_the_app_database_and_urls_named_in_secrets(settings) -> None:  # type: ignore[no-untyped-def]
    shared = replace(settings, allow_typed_db_urls=False)
    assert check_user_url(settings.database_url, shared) == settings.database_url
    assert check_user_url("postgresql://ro:pw@wh:5432/runs", shared) == "postgresql://ro:pw@wh:5432/runs"
    with pytest.raises(InputError, match="turned off on this deployment") as err:
        check_user_url("postgresql://me:hunter2@internal-host/db", shared)
    assert "hunter2" not in err.value.message
    with pytest.raises(InputError, match="turned off"):
        check_user_url(f"sqlite:///{settings.state_dir}/mine.db", shared)


def test_the_setting_is_read_from_the_environment_or_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_ALLOW_TYPED_DB_URLS", "false")
    assert get_settings().allow_typed_db_urls is False
    assert get_settings({"HEADROOM_ALLOW_TYPED_DB_URLS": "true"}).allow_typed_db_urls is True
    monkeypatch.setenv("HEADROOM_ALLOW_TYPED_DB_URLS", "perhaps")
    with pytest.raises(ValueError, match="true or false"):
        get_settings()


@pytest.mark.parametrize("allow", [True, False])
def test_a_typed_sqlite_path_is_confined_to_the_state_directory(settings, allow: bool) -> None:  # type: ignore[no-untyped-def]
    mode = replace(settings, allow_typed_db_urls=allow)
    for attempt in ("sqlite:///../../etc/passwd.db", "sqlite:////etc/headroom.db", "sqlite:///a/../../../x.db"):
        with pytest.raises(InputError, match="state directory|turned off"):
            check_user_url(attempt, mode)


def test_a_relative_sqlite_path_lands_inside_the_state_directory(settings) -> None:  # type: ignore[no-untyped-def]
    url = check_user_url("sqlite:///runs/jobs.db", settings)
    assert url == f"sqlite:///{(settings.state_dir / 'runs' / 'jobs.db').resolve()}"


def test_a_symlink_out_of_the_state_directory_is_refused(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "escape").symlink_to(tmp_path)
    with pytest.raises(InputError, match="state directory"):
        check_user_url("sqlite:///escape/other.db", settings)


def test_named_urls_put_the_app_database_first(settings) -> None:  # type: ignore[no-untyped-def]
    assert list(allowed_named_urls(settings)) == ["app database", "warehouse"]
