"""Background jobs: on an RQ queue when ``REDIS_URL`` is set, else on a thread in this process.

A job is named by its dotted path (``"panel_tracker.evidence.bulk.job.run_bulk_import"``) and
takes plain arguments (ids, not rows). It always runs in an application context of its
own, so it has its own database session (``get_session()``) and commits its own work:

- **RQ** (``REDIS_URL`` set): the worker process builds the app with :func:`create_app`
  from the config chain plus :func:`portable_config` — the instance folder, and the
  database URL unless it holds a password. Secrets never go into Redis: a worker gets them
  from its own environment, as every process of the deployment does. Start workers with
  ``panel-tracker worker``.
- **Embedded** (no ``REDIS_URL``, the default for one machine): a daemon thread runs the
  job in a new context of the same app object — the same config by construction, and the
  same connection pool. A job running when the process stops is left unfinished; its
  heartbeat stops, and the next start of the app or of a worker marks it failed and
  retryable (``panel_tracker.evidence.debris``).
- **Inline** (``sync=True``, used by tests and ``BULK_IMPORT_SYNC``): the same as embedded,
  but the caller waits.
"""
from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

import click
import redis
import rq
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from .db import get_engine

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "panel_tracker"
#: Config keys a worker needs to find the same data and apply the same limits.
PORTABLE_KEYS = ("ENV", "PHOTO_STORE", "PHOTO_MAX_BYTES", "PHOTO_MAX_PIXELS", "BULK_IMPORT_MAX_FILES",
                 "BULK_IMPORT_MAX_BYTES", "BULK_IMPORT_MAX_RATIO", "BULK_IMPORT_STAGING", "BULK_IMPORT_DEAD_MINUTES",
                 "BULK_IMPORT_RETRY_HOURS", "EVIDENCE_DEBRIS_MINUTES")


def resolve(func_path: str) -> Callable:
    module_name, _, name = func_path.rpartition(".")
    if not module_name.startswith("panel_tracker."):
        raise ValueError(f"jobs run Panel Tracker functions only, not {func_path!r}")
    return getattr(importlib.import_module(module_name), name)


def portable_config(app) -> dict:
    """What a worker process must be told to work on the same instance; nothing secret."""
    config = {"INSTANCE_PATH": app.instance_path}
    config.update({key: app.config[key] for key in PORTABLE_KEYS if app.config.get(key) is not None})
    if sa.engine.make_url(app.config["DATABASE_URL"]).password is None:
        config["DATABASE_URL"] = app.config["DATABASE_URL"]
    return config


def queue(app=None):
    app = app or current_app
    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    return rq.Queue(app.config.get("JOBS_QUEUE") or DEFAULT_QUEUE, connection=connection)


def enqueue(func_path: str, *args, sync: bool = False, timeout: int = 6 * 3600) -> str | None:
    """Start ``func_path(*args)`` in the background; return the RQ job id, or None in-process.

    Raises ``redis.exceptions.ConnectionError`` when a queue is configured but unreachable:
    the caller says so to the user rather than pretending the job started.
    """
    resolve(func_path)  # a typo fails here, in the request, not later in a worker
    app = current_app._get_current_object()
    if sync:
        run_in_app(app, func_path, *args)
        return None
    if app.config.get("REDIS_URL"):
        job = queue(app).enqueue_call("panel_tracker.jobs.run", args=(func_path, portable_config(app), *args),
                                      timeout=timeout, result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
                                      description=f"{func_path}{args!r}")
        return job.id
    thread = threading.Thread(target=run_in_app, args=(app, func_path, *args), daemon=True,
                              name=f"job {func_path.rsplit('.', 1)[-1]}{args!r}")
    thread.start()
    return None


def run_in_app(app, func_path: str, *args):
    """Run a job in a fresh application context (so a fresh database session) of ``app``."""
    with app.app_context():
        return resolve(func_path)(*args)


def run(func_path: str, config: dict, *args):
    """The RQ entry point: build the app in this (worker) process, run the job, let go of the pool."""
    from . import create_app  # here, not at the top: the package imports this module (for `worker`)

    app = create_app({**config, "EVIDENCE_CLEAN_ON_START": False})  # the worker cleaned when it started
    try:
        return run_in_app(app, func_path, *args)
    finally:
        get_engine(app).dispose()


# ------------------------------------------------------------------ panel-tracker worker

@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty instead of waiting for jobs.")
@with_appcontext
def jobs_cli(burst: bool) -> None:
    """Run a worker for background jobs (bulk photo imports); needs REDIS_URL."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        click.echo("error: REDIS_URL is not set; without it jobs run inside the web process and need no worker.",
                   err=True)
        raise SystemExit(2)
    q = queue(app)
    try:
        q.connection.ping()
    except redis.exceptions.ConnectionError as exc:
        click.echo(f"error: Redis at {app.config['REDIS_URL']} is not reachable: {exc}", err=True)
        raise SystemExit(1)
    click.echo(f"worker listening on queue {q.name!r}")
    rq.Worker([q], connection=q.connection).work(burst=burst)


def init_app(app) -> None:
    app.cli.add_command(jobs_cli)  # panel-tracker worker [--burst]
