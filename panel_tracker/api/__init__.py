"""api: the token-authenticated JSON API (docs/api.md)."""
from __future__ import annotations


def init_app(app) -> None:
    from . import views  # the web layer loads when an app is built, not when the package is imported

    app.register_blueprint(views.bp)
