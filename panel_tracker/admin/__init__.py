"""admin: the panel's members and settings pages."""
from __future__ import annotations

from .. import registry
from ..auth.models import Role


def init_app(app) -> None:
    from . import views  # the web layer loads when an app is built, not when the package is imported

    app.register_blueprint(views.bp)
    registry.add_nav(app, "Members", "admin.members", role=Role.ADMIN, order=80)
    registry.add_nav(app, "Settings", "admin.settings", role=Role.ADMIN, order=90)
