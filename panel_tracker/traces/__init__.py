"""Correspondence and trace requests (domain.md §6, issue 11): a self-registering domain.

``init_app(app)`` registers everything the domain brings — blueprint, CLI group
``traces``, navigation entry and dashboard figures — so ``create_app`` calls it once.
"""
from __future__ import annotations

NAV = ("traces.index", "Letters")


def init_app(app) -> None:
    from .cli import traces_cli
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(traces_cli)
    app.extensions.setdefault("panel_tracker.nav", []).append(NAV)
    app.extensions.setdefault("panel_tracker.dashboard", []).append(_dashboard_figures)


def _dashboard_figures() -> dict:
    from .stats import dashboard_figures

    return dashboard_figures()
