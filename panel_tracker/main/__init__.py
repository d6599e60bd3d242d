"""main: the landing redirect and the panel's dashboard."""
from __future__ import annotations

from .. import registry


def init_app(app) -> None:
    from . import views  # the web layer loads when an app is built, not when the package is imported

    app.register_blueprint(views.bp)
    registry.add_nav(app, "Dashboard", "main.dashboard", order=0)
