"""Which databases a visitor may reach: the policy behind every user-chosen source and output.

A URL typed into a shared app is a request made by the server: it reaches every host the server
can reach, and ``sqlite:///<path>`` reads or creates files anywhere the process may write. So:

- the app's own database and URLs named in secrets (``[database_urls]``) are always allowed;
- any other URL is allowed only while ``HEADROOM_ALLOW_TYPED_DB_URLS`` is on (the default for a
  local run; turn it off for a shared deployment);
- a typed SQLite URL is confined to the state directory in every mode: a relative path is taken
  inside it, and a path that resolves outside it (``..``, an absolute path, a symlink) is refused.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.config import ENV_ALLOW_TYPED_DB_URLS, Settings
from core.errors import InputError


def allowed_named_urls(settings: Settings) -> dict[str, str]:
    """The URLs a visitor may pick by name: the app database first, then those named in secrets."""
    return {"app database": settings.database_url, **dict(settings.named_db_urls)}


def check_user_url(url: str, settings: Settings) -> str:
    """``url`` if the policy allows it (a typed SQLite path made absolute inside the state
    directory), else an ``InputError`` that says why; the password never appears in it."""
    url = (url or "").strip()
    if not url:
        raise InputError("give a database URL")
    if url in allowed_named_urls(settings).values():
        return url
    if not settings.allow_typed_db_urls:
        raise InputError(f"typed database URLs are turned off on this deployment ({ENV_ALLOW_TYPED_DB_URLS}=false): "
                         "use the app database or a database named in the app's secrets")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError("the database URL is not valid (expected e.g. postgresql://user:***@host/db)") from None
    if parsed.get_backend_name() != "sqlite":
        return url
    return _confined_sqlite(parsed.database, settings.state_dir)


def _confined_sqlite(database: str | None, state_dir: Path) -> str:
    if not database or database == ":memory:" or database.startswith("file:"):
        if database and database.startswith("file:"):
            raise InputError("SQLite URI filenames (file:...) are not accepted; give a file name in the state directory")
        return "sqlite://"
    root = state_dir.resolve()
    path = Path(database)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise InputError(f"a typed SQLite database must be a file inside the app's state directory ({root}); "
                         f"'{database}' is outside it")
    return f"sqlite:///{resolved}"
