"""Panel Tracker: case tracker for the arms experts of UN Security Council sanctions panels."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from . import (admin, annexes, api, audit, auth, cases, cli, db, demo, errors, evidence, exports, extensions, jobs,
               main, inputs, requestctx, search, security_headers, templating, traces)
from .config import ConfigError, default_instance_path, load_config

__all__ = ["create_app", "ConfigError"]

#: Each domain registers its blueprints, commands, navigation entries and dashboard
#: figures in its ``init_app``; this list is the one place that names them.
DOMAINS = (main, auth, admin, audit, cases, evidence, exports, traces, annexes, search, api)

HERE = Path(__file__).resolve().parent


def templates_folder() -> Path:
    """``templates/`` is kept at the repository's root; a wheel ships it as ``panel_tracker/templates``."""
    installed = HERE / "templates"
    return installed if installed.is_dir() else HERE.parent / "templates"


def create_app(config: dict | None = None) -> Flask:
    instance_path = str((config or {}).get("INSTANCE_PATH") or default_instance_path())
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(templates_folder()),
        static_folder="static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)

    db.init_app(app)
    extensions.init_app(app)
    for domain in DOMAINS:
        domain.init_app(app)
    inputs.init_app(app)
    requestctx.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    demo.init_app(app)
    jobs.init_app(app)
    return app
