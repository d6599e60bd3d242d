"""cases: cases, inspections, items and markings; their import and command line.

Cases never imports evidence (evidence depends on cases): what evidence shows on its pages (photos) and adds to its item
list comes through :mod:`panel_tracker.registry`; exports live in :mod:`panel_tracker.exports`."""
from __future__ import annotations

from .. import changes, registry
from .feed import children_of_cases, children_of_items


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from . import import_views, queries, views  # noqa: F401  (they add their routes to the blueprint)
    from .blueprint import bp
    from .cli import items_cli

    app.register_blueprint(bp)
    app.cli.add_command(items_cli)
    registry.add_nav(app, "Cases", "cases.index", order=10)
    registry.add_nav(app, "Items", "cases.items", order=20)
    registry.add_dashboard_figures(app, queries.dashboard_figures)
    changes.add_children(app, "case_file", children_of_cases)
    changes.add_children(app, "item", children_of_items)
