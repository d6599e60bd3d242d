"""traces: correspondence and trace requests (domain.md §6) — addressees, letters, dated
events, replies with per-item outcomes, follow-ups, due policy, statistics, the digest."""
from __future__ import annotations

from .. import registry
from .stats import dashboard_figures


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from .cli import traces_cli
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(traces_cli)
    registry.add_nav(app, "Letters", "traces.index", order=30)
    registry.add_dashboard_figures(app, dashboard_figures)
