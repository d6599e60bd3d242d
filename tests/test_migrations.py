"""Alembic migrations, up and down one revision at a time, with data in the tables.

On each backend a fresh, empty database is taken through every revision: after each step
up, a row goes into every table that step created (values made up from the column types,
foreign keys pointing at rows inserted earlier); then at head real data goes in through
the CLI, and the database is taken down again one step at a time with all that data in
place. Finally the schema built by the migrations must match the models exactly
(Alembic's autogenerate finds nothing to do): a model changed without a migration fails.
"""
from __future__ import annotations

import contextvars
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from panel_tracker import migrations
from panel_tracker.db import get_engine, make_engine
from tests.conftest import Database, make_test_app, new_database

# Where the made-up value for a column's type would break a constraint of a later
# migration, give a sensible one here: (table, column) -> value.
SAMPLE_VALUES: dict[tuple[str, str], object] = {}

VERSION_TABLE = "alembic_version"


@pytest.fixture
def empty_database(database, tmp_path):
    url, cleanup = new_database(database.backend, tmp_path)
    engine = make_engine(url)
    yield Database(database.backend, url, engine)
    engine.dispose()
    cleanup()


def revisions_base_to_head(engine) -> list:
    script = ScriptDirectory.from_config(migrations.alembic_config(engine))
    assert len(script.get_heads()) == 1, f"the migrations have several heads: {script.get_heads()}; merge them"
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {VERSION_TABLE}


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def _sample(table_name: str, column: sa.Column, dialect: str):
    if (table_name, column.name) in SAMPLE_VALUES:
        return SAMPLE_VALUES[(table_name, column.name)]
    model_table = SQLModel.metadata.tables.get(table_name)
    model_column = model_table.columns.get(column.name) if model_table is not None else None
    if model_column is not None and isinstance(model_column.type, sa.Enum) and model_column.type.enums:
        return model_column.type.enums[0]
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is bool:
        return False
    if kind is int:
        return 1
    if kind is float:
        return 1.0
    if kind is datetime:
        now = datetime.now(timezone.utc)
        return now.replace(tzinfo=None) if dialect == "sqlite" else now
    if kind is date:
        return date.today()
    if kind in (dict, list):
        return {}
    if kind is bytes:
        return b"x"
    length = getattr(column.type, "length", None) or 8
    return ("x" * 8)[:length] if column.name != "classification" else "panel"


def insert_a_row_into_each(engine, names: set[str]) -> None:
    """One row per new table, parents first; every column filled (nullable ones too)."""
    meta = sa.MetaData()
    meta.reflect(engine, only=sorted(names))
    with engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name not in names:  # a parent reflected for its foreign keys
                continue
            row = {}
            for column in table.columns:
                if column.primary_key and column.autoincrement in (True, "auto") and isinstance(
                        column.type, sa.Integer) and len(table.primary_key.columns) == 1:
                    continue
                fk = next(iter(column.foreign_keys), None)
                if fk is not None:
                    target = fk.column
                    value = conn.execute(sa.text(
                        f'SELECT min("{target.name}") FROM "{target.table.name}"')).scalar()
                    if value is None and not column.nullable:
                        pytest.fail(f"{table.name}.{column.name} needs a row in {target.table.name}, which is empty")
                    row[column.name] = value
                else:
                    row[column.name] = _sample(table.name, column, engine.dialect.name)
            conn.execute(table.insert().values(**row))


def row_counts(engine, names) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names}


def cli(app, *args):
    return contextvars.Context().run(app.test_cli_runner().invoke, args=list(args))


def test_every_migration_goes_up_and_down_with_data_in_the_tables(empty_database, tmp_path):
    engine = empty_database.engine
    revisions = revisions_base_to_head(engine)
    assert revisions, "no migrations found"
    created: dict[str, set[str]] = {}

    # Up, one revision at a time, a row in each new table.
    for rev in revisions:
        before = tables(engine)
        migrations.upgrade(engine, rev.revision)
        assert migrations.current(engine) == rev.revision
        created[rev.revision] = tables(engine) - before
        insert_a_row_into_each(engine, created[rev.revision])
    assert schema_differences(engine) == []

    # Real data at head, through the CLI.
    app = make_test_app(empty_database, tmp_path / "instance")
    try:
        password_file = tmp_path / "password"
        password_file.write_text("a password for the migration test\n")
        result = cli(app, "panels", "create", "YEM", "--name", "Panel of Experts on Yemen")
        assert result.exit_code == 0, result.output
        result = cli(app, "users", "create", "expert@yem.example", "--panel", "YEM", "--role", "expert",
                     "--password-file", str(password_file))
        assert result.exit_code == 0, result.output
        assert cli(app, "audit", "verify").exit_code == 1  # the made-up audit row is not chained, and it is seen
    finally:
        get_engine(app).dispose()

    # Down, one revision at a time, the data still there.
    all_tables = tables(engine)
    for rev in reversed(revisions):
        migrations.downgrade(engine, rev.down_revision or "base")
        assert migrations.current(engine) == rev.down_revision
        remaining = tables(engine)
        assert not (created[rev.revision] & remaining), f"{rev.revision} down left {created[rev.revision] & remaining}"
        older = all_tables - set().union(*(created[r.revision] for r in revisions[revisions.index(rev):]))
        assert remaining == older
        assert all(count > 0 for count in row_counts(engine, remaining).values())
    assert tables(engine) == set()


def test_cli_upgrades_an_empty_database_to_the_models_and_downgrades_it_to_nothing(empty_database, tmp_path):
    engine = empty_database.engine
    app = make_test_app(empty_database, tmp_path / "instance")
    try:
        result = cli(app, "db", "upgrade")
        head = revisions_base_to_head(engine)[-1].revision
        assert result.exit_code == 0, result.output
        assert f"database at revision {head}" in result.output
        assert schema_differences(engine) == []

        result = cli(app, "db", "downgrade", "base")
        assert result.exit_code == 0, result.output
        assert "database at revision base" in result.output
        assert tables(engine) == set()

        assert cli(app, "db", "upgrade").exit_code == 0
        assert migrations.current(engine) == head
        assert schema_differences(engine) == []
    finally:
        get_engine(app).dispose()
