"""Panel Tracker: case tracker for the arms experts of UN Security Council sanctions panels."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from .config import ConfigError, default_instance_path, load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["create_app", "ConfigError"]


def create_app(config: dict | None = None) -> Flask:
    instance_path = str((config or {}).get("INSTANCE_PATH") or default_instance_path())
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)

    from . import db, extensions

    db.init_app(app)
    extensions.init_app(app)
    _register_blueprints(app)

    from . import errors, requestctx, templating

    requestctx.init_app(app)
    errors.init_app(app)
    templating.init_app(app)

    from .cli import register_commands

    register_commands(app)
    from . import search

    search.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .audit.views import bp as audit_bp
    from .auth.views import bp as auth_bp
    from .main.views import bp as main_bp

    for bp in (main_bp, auth_bp, admin_bp, audit_bp, api_bp):
        app.register_blueprint(bp)
    for name in ("cases.views", "cases.export_views", "evidence.views"):
        try:
            module = __import__(f"panel_tracker.{name}", fromlist=["bp"])
        except ModuleNotFoundError as exc:  # a domain not built yet
            if exc.name != f"panel_tracker.{name}":
                raise
            continue
        app.register_blueprint(module.bp)
