"""A throw-away database for a benchmark run: SQLite in a temporary folder, or a PostgreSQL
database created on the local server and dropped afterwards."""
from __future__ import annotations

import contextlib
import tempfile
import uuid

import sqlalchemy as sa

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch_database(backend: str, prefix: str = "bench"):
    """Yield ``(instance_folder, database_url)``."""
    instance = tempfile.mkdtemp(prefix=f"{prefix}-")
    if backend == "sqlite":
        yield instance, f"sqlite:///{instance}/bench.db"
        return
    name = f"pt_{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield instance, PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
