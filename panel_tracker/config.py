"""Configuration: one chain, applied in this order (later wins).

1. ``DEFAULTS`` below;
2. ``instance/config.py`` (Python file, optional);
3. environment variables ``PANEL_TRACKER_<NAME>`` (values are parsed as JSON when they
   parse, e.g. ``PANEL_TRACKER_LOGIN_MAX_FAILURES=3``), plus ``DATABASE_URL`` and
   ``REDIS_URL`` which hosting platforms set without our prefix (the prefixed form wins);
4. the ``config`` mapping given to ``create_app`` (tests).

``PANEL_TRACKER_INSTANCE`` moves the instance folder (database, search index, photo store).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ENVIRONMENTS = ("development", "test", "production")

DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None: SQLite file instance/panel_tracker.db
    "REDIS_URL": None,  # None: background jobs run in-process
    "SQL_ECHO": False,
    # Uploads: a request may carry a day's photos; one photo is limited separately.
    "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,
    "PHOTO_MAX_BYTES": 80 * 1024 * 1024,
    "PHOTO_MAX_PIXELS": 80_000_000,
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    # Login throttling (kept in the database, so it holds across worker processes).
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "LOGIN_MAX_FAILURES_PER_IP": 50,
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto (0: none; the
    # client's address is then the socket's). Throttling counts by the real client address.
    "TRUSTED_PROXIES": 0,
    # Server-side sessions: ended after this long without a request, and after this long at most.
    "SESSION_IDLE_MINUTES": 120,
    "SESSION_MAX_HOURS": 12,
    # API tokens.
    "API_TOKEN_MAX_DAYS": 365,
    "INVITE_VALID_DAYS": 7,
    # Password hashing (argon2id); tests lower the cost.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    # Cookies.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # True in production
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,  # the cookie's; the server ends it sooner (above)
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "ITEMS_PER_PAGE": 50,
    # Bulk photo import (a day's work as a ZIP or folder).
    "BULK_IMPORT_MAX_FILES": 5000,
    "BULK_IMPORT_MAX_BYTES": 8 * 1024**3,
    "BULK_IMPORT_STAGING": None,  # None: instance/bulk_staging
    "BULK_IMPORT_MAX_RATIO": 100,  # a member unpacking to more than 100 times its packed size is a ZIP bomb
    "BULK_IMPORT_SYNC": False,  # True: run the import inside the request
    "BULK_IMPORT_DEAD_MINUTES": 15,  # a running import whose heartbeat is older has died: failed, retryable
    "BULK_IMPORT_RETRY_HOURS": 7 * 24,  # a dead import's staged files are kept this long for "Retry"
    "EVIDENCE_DEBRIS_MINUTES": 60,
    "EVIDENCE_CLEAN_ON_START": True,  # remove old tmp files, fail dead imports when the app or a worker starts  # files left by an interrupted upload older than this are removed
    "JOBS_QUEUE": "panel_tracker",
    # Report annexes: builds run in the background (a job); True runs them inside the request.
    "ANNEX_BUILD_SYNC": False,
    "ANNEX_LAYOUT_WORKERS": None,  # None: the machine's cores, at most 2 (annexes/pdf.py)
    # Print derivatives made when a photo is put on an item or in a block (annexes/prints.py).
    "ANNEX_PRINTS_AHEAD": True,
    # Audit anchors: the HMAC key; None: instance/audit_anchor.key (made on first use).
    "AUDIT_ANCHOR_KEY": None,
    # Mail (the coordinators' digest of letters overdue): an SMTP server, the sender, and
    # the address of this site for links in the mail.
    # Marking search: the index folder (None: instance/search, one index per panel, shared by
    # every worker host), whether each commit updates it, and the writer processes of a rebuild.
    "SEARCH_INDEX_PATH": None,
    "SEARCH_INDEX_ON_COMMIT": True,
    "SEARCH_REBUILD_PROCS": None,  # None: the machine's cores, at most 4
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_FROM": "panel-tracker@localhost",
    "BASE_URL": None,
}


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


def default_instance_path() -> Path:
    """``PANEL_TRACKER_INSTANCE``, else ``./instance`` of the working directory (never inside
    the installed package, which may be a read-only ``site-packages``)."""
    return Path(os.environ.get("PANEL_TRACKER_INSTANCE") or "instance").resolve()


def load_config(app, config: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile(os.path.join(app.instance_path, "config.py"), silent=True)
    for plain in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(plain):
            app.config[plain] = os.environ[plain]
    app.config.from_prefixed_env("PANEL_TRACKER")
    if config:
        app.config.from_mapping(config)
    _finish(app)


def _finish(app) -> None:
    env = app.config["ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PANEL_TRACKER_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    app.config["TESTING"] = app.config.get("TESTING") or env == "test"
    if not app.config.get("SECRET_KEY"):
        if env == "production":
            raise ConfigError(
                "SECRET_KEY is not set. In production set PANEL_TRACKER_SECRET_KEY "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))
    if env == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.config["DATABASE_URL"] = normalise_database_url(
        app.config.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'panel_tracker.db'}"
    )


def _development_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so development sessions survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Hosting platforms hand out ``postgres://``; SQLAlchemy 2 with psycopg 3 wants the driver named."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
