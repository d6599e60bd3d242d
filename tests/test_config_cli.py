"""The configuration chain, the ``panel-tracker`` command, and error pages without stack traces."""
from __future__ import annotations

import contextvars
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from panel_tracker import ConfigError, create_app
from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.access import public
from panel_tracker.auth.models import Membership, Role, User
from panel_tracker.config import DEFAULTS
from panel_tracker.db import get_engine
from tests.conftest import make_test_app
from tests.factories import PASSWORD, log_in

PLAIN_ENV = ("DATABASE_URL", "REDIS_URL", "FLASK_APP", "FLASK_DEBUG", "FLASK_ENV")


@pytest.fixture
def clean_env(monkeypatch):
    """No PANEL_TRACKER_* nor hosting variables from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("PANEL_TRACKER_") or name in PLAIN_ENV:
            monkeypatch.delenv(name)
    return monkeypatch


def build(config: dict):
    app = create_app(config)
    get_engine(app).dispose()
    return app


def cli(runner, *args, **kwargs):
    """Run a command as its own process would: in a fresh context, with its own session."""
    return contextvars.Context().run(runner.invoke, args=list(args), **kwargs)


def count(db, model, *where) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


# ------------------------------------------------------------------ configuration chain


def test_config_chain_defaults_then_instance_file_then_environment_then_create_app(clean_env, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "ITEMS_PER_PAGE = 10\nLOGIN_MAX_FAILURES = 7\nAPI_TOKEN_MAX_DAYS = 100\n")
    clean_env.setenv("PANEL_TRACKER_ITEMS_PER_PAGE", "20")
    clean_env.setenv("PANEL_TRACKER_LOGIN_MAX_FAILURES", "8")
    app = build({"ENV": "test", "INSTANCE_PATH": str(instance), "ITEMS_PER_PAGE": 30})
    assert app.config["INVITE_VALID_DAYS"] == DEFAULTS["INVITE_VALID_DAYS"]  # default
    assert app.config["API_TOKEN_MAX_DAYS"] == 100  # instance/config.py over the default
    assert app.config["LOGIN_MAX_FAILURES"] == 8  # the environment over the file, parsed as JSON
    assert app.config["ITEMS_PER_PAGE"] == 30  # create_app's mapping over everything


def test_database_and_redis_urls_from_the_hosting_environment(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgres://pt:secret@db.example:5432/panel")
    clean_env.setenv("REDIS_URL", "redis://cache.example:6379/0")
    app = build({"ENV": "test", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://pt:secret@db.example:5432/panel"
    assert app.config["REDIS_URL"] == "redis://cache.example:6379/0"

    clean_env.setenv("PANEL_TRACKER_DATABASE_URL", "postgresql://pt@other.example/panel")
    app = build({"ENV": "test", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://pt@other.example/panel"  # the prefixed form wins


def test_without_database_url_the_database_is_sqlite_in_the_instance_folder(clean_env, tmp_path):
    app = build({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "inst")})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'panel_tracker.db'}"
    assert app.config["REDIS_URL"] is None


def test_panel_tracker_instance_moves_the_instance_folder(clean_env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    clean_env.setenv("PANEL_TRACKER_INSTANCE", str(elsewhere))
    app = build({"ENV": "development"})
    assert Path(app.instance_path) == elsewhere.resolve()
    assert elsewhere.is_dir()
    assert app.config["DATABASE_URL"] == f"sqlite:///{elsewhere.resolve() / 'panel_tracker.db'}"
    key = elsewhere / "secret_key"  # development makes a key and keeps it there, private
    assert key.read_text().strip() == app.config["SECRET_KEY"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert build({"ENV": "development"}).config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_production_without_secret_key_refuses_to_start(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set.*PANEL_TRACKER_SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    clean_env.setenv("PANEL_TRACKER_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()  # no key was made up for production


def test_production_with_secret_key_starts_with_secure_cookies(clean_env, tmp_path):
    clean_env.setenv("PANEL_TRACKER_ENV", "production")
    clean_env.setenv("PANEL_TRACKER_SECRET_KEY", "from-the-environment")
    app = build({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["TESTING"] is False


def test_an_unknown_environment_name_is_refused(clean_env, tmp_path):
    with pytest.raises(ConfigError, match="PANEL_TRACKER_ENV must be one of"):
        create_app({"ENV": "staging", "INSTANCE_PATH": str(tmp_path)})


# ------------------------------------------------------------------ the command


def test_demo_refuses_to_run_in_production(database, tmp_path, db):
    production = make_test_app(database, tmp_path / "prod", ENV="production", SECRET_KEY="production key")
    try:
        users_before = count(db, User)
        result = cli(production.test_cli_runner(), "demo")
        assert result.exit_code == 2
        assert "refuses to run in production" in result.output
        assert count(db, User) == users_before
    finally:
        get_engine(production).dispose()


def test_demo_is_idempotent_and_prints_the_logins(app, db, runner):
    first = cli(runner, "demo")
    assert first.exit_code == 0, first.output
    for role in ("admin", "coordinator", "expert", "viewer"):
        assert f"{role}@demo.example" in first.output and f"demo-{role}-password" in first.output
    users, memberships, records = count(db, User), count(db, Membership), count(db, AuditRecord)
    assert users == 4 and memberships == 4

    second = cli(runner, "demo")
    assert second.exit_code == 0, second.output
    assert (count(db, User), count(db, Membership), count(db, AuditRecord)) == (users, memberships, records)
    assert "expert@demo.example" in second.output

    client = app.test_client()
    response = client.post("/login", data={"email": "expert@demo.example", "password": "demo-expert-password"})
    assert response.status_code == 302
    assert "Panel of Experts on Yemen (demo)" in client.get("/dashboard").get_data(as_text=True)


def test_panels_create_and_its_refusals(app, db, runner):
    result = cli(runner, "panels", "create", "sdn", "--name", "Panel of Experts on the Sudan",
                 "--regime", "resolution 1591 (2005)")
    assert result.exit_code == 0, result.output
    assert "created panel SDN: Panel of Experts on the Sudan" in result.output
    again = cli(runner, "panels", "create", "SDN", "--name", "Again")
    assert again.exit_code == 2 and "Panel SDN already exists" in again.output
    bad = cli(runner, "panels", "create", "S1", "--name", "Bad code")
    assert bad.exit_code == 2 and "2 to 6 capital letters" in bad.output
    assert cli(runner, "panels", "create", "LBY").exit_code == 2  # --name is required


def test_users_create_reads_the_password_from_a_file_and_the_user_logs_in(app, db, runner, world, tmp_path):
    password_file = tmp_path / "password.txt"
    password_file.write_text("a long enough password\nsecond line ignored\n")
    result = cli(runner, "users", "create", "Cli.User@yem.example", "--panel", "yem", "--role", "coordinator",
                 "--name", "Clara Cli", "--password-file", str(password_file),
                 "--mandate-start", "2025-01-01", "--mandate-end", "2099-12-31")
    assert result.exit_code == 0, result.output
    assert "cli.user@yem.example is coordinator of YEM" in result.output
    db.expire_all()
    user = db.exec(select(User).where(User.email == "cli.user@yem.example")).one()
    assert user.name == "Clara Cli" and user.password_hash.startswith("$argon2id$")
    log_in(app.test_client(), user, "a long enough password")


def test_users_create_gives_an_existing_email_a_new_membership(app, db, runner, world):
    expert = world.users["expert"]
    result = cli(runner, "users", "create", expert.email, "--panel", "LBY", "--role", "viewer")
    assert result.exit_code == 0, result.output  # no password asked: the account exists
    assert f"{expert.email} is viewer of LBY" in result.output
    db.expire_all()
    roles = {m.panel_id: m.role for m in db.exec(select(Membership).where(Membership.user_id == expert.id))}
    assert roles == {world.panel.id: Role.EXPERT, world.other_panel.id: Role.VIEWER}
    log_in(app.test_client(), expert, PASSWORD)  # the password did not change
    twice = cli(runner, "users", "create", expert.email, "--panel", "LBY", "--role", "viewer")
    assert twice.exit_code == 2 and "already a member of LBY" in twice.output


def test_users_create_refusals_exit_2(app, db, runner, world, tmp_path):
    password_file = tmp_path / "password.txt"
    password_file.write_text("long enough password\n")
    unknown = cli(runner, "users", "create", "someone@x.example", "--panel", "XYZ", "--role", "expert",
                  "--password-file", str(password_file))
    assert unknown.exit_code == 2 and "no panel with code 'XYZ'" in unknown.output
    short = tmp_path / "short.txt"
    short.write_text("short\n")
    too_short = cli(runner, "users", "create", "short@x.example", "--panel", "YEM", "--role", "expert",
                    "--password-file", str(short))
    assert too_short.exit_code == 2 and "at least 12 characters" in too_short.output
    bad_role = cli(runner, "users", "create", "x@x.example", "--panel", "YEM", "--role", "boss",
                   "--password-file", str(password_file))
    assert bad_role.exit_code == 2
    assert count(db, User, User.email.in_(["someone@x.example", "short@x.example", "x@x.example"])) == 0


@pytest.mark.parametrize("content", ["", "\n"])
def test_users_create_refuses_an_empty_password_file(app, db, runner, world, tmp_path, content):
    """An empty first line is a mistake, not "no password": the account could never log in."""
    empty = tmp_path / "password.txt"
    empty.write_text(content)
    result = cli(runner, "users", "create", "empty@yem.example", "--panel", "YEM", "--role", "expert",
                 "--password-file", str(empty))
    assert result.exit_code == 2, result.output
    assert "empty" in result.output
    assert count(db, User, User.email == "empty@yem.example") == 0


# ------------------------------------------------------------------ error pages

STACK_TRACE_SIGNS = ("Traceback", 'File "', "RuntimeError", "the internal detail", "werkzeug", ".py")


def _raise():
    raise RuntimeError("the internal detail nobody should see")


@pytest.fixture
def app_with_a_broken_page(app):
    app.add_url_rule("/broken", "broken_page", public(_raise))
    app.add_url_rule("/api/v1/broken", "broken_api", public(_raise))
    return app


def test_not_found_page_helps_and_shows_no_internals(app):
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "There is nothing here" in html and "Back to the start" in html
    assert not any(sign in html for sign in STACK_TRACE_SIGNS)
    api = app.test_client().get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json["error"] == "Not Found"


@pytest.mark.app_config(PROPAGATE_UNEXPECTED=False)
def test_server_error_page_shows_no_stack_trace(app_with_a_broken_page):
    response = app_with_a_broken_page.test_client().get("/broken")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert not any(sign in html for sign in STACK_TRACE_SIGNS)

    api = app_with_a_broken_page.test_client().get("/api/v1/broken")
    assert api.status_code == 500
    assert api.json == {"error": "Internal Server Error",
                        "message": "Something went wrong on our side. Nothing you sent was half-saved; please try again."}


@pytest.mark.app_config(PROPAGATE_UNEXPECTED=False, ENV="production", SECRET_KEY="production key")
def test_server_error_page_in_production_shows_no_stack_trace(app_with_a_broken_page):
    response = app_with_a_broken_page.test_client().get("/broken")
    assert response.status_code == 500
    assert not any(sign in response.get_data(as_text=True) for sign in STACK_TRACE_SIGNS)


# ------------------------------------------------------------------ as the README runs it


def _panel_tracker_command() -> str:
    found = shutil.which("panel-tracker", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("the panel-tracker command is not installed next to this Python: pip install -e '.[test]'")
    return found


def test_readme_commands_in_a_fresh_instance_folder(tmp_path):
    """``panel-tracker db upgrade`` then ``demo`` then ``audit verify``, each its own process, SQLite."""
    command = _panel_tracker_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANEL_TRACKER_") and k not in PLAIN_ENV}
    env["PANEL_TRACKER_INSTANCE"] = str(tmp_path / "instance")

    def run(*args):
        return subprocess.run([command, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    upgrade = run("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout.startswith("database at revision") and upgrade.stdout.split()[-1] != "base"
    assert (tmp_path / "instance" / "panel_tracker.db").is_file()

    demo = run("demo")
    assert demo.returncode == 0, demo.stderr
    assert "expert@demo.example" in demo.stdout and "demo-expert-password" in demo.stdout
    verify = run("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "audit chain intact" in verify.stdout

    again = run("demo")
    assert again.returncode == 0, again.stderr
    assert run("audit", "verify").stdout == verify.stdout  # the second demo changed nothing

    production = subprocess.run([command, "demo"], env={**env, "PANEL_TRACKER_ENV": "production"},
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert production.returncode != 0
    assert "SECRET_KEY is not set" in production.stderr
    assert "Traceback" not in production.stderr  # a configuration error, said plainly
