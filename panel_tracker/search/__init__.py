"""Marking search: one Whoosh index per panel, written after each commit, queried with
the panel's folding rules (see analysis.py), filtered by classification at query time.
``init_app`` registers the pages, the API endpoints, the CLI, the index writer and the
``q`` filter of the item and case lists."""
from __future__ import annotations

from .. import registry


def init_app(app) -> None:
    from . import filters, sync
    from .cli import search_cli
    from .views import api_bp, bp

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(search_cli)
    registry.add_list_filter(app, "items", "q", filters.filter_items)
    registry.add_list_filter(app, "cases", "q", filters.filter_cases)

    @app.context_processor
    def _search_news():  # the dashboard's lines for saved searches with notification
        from .views import news_for_dashboard

        return {"search_news": news_for_dashboard}

    sync.subscribe(app)  # the index follows each commit (panel_tracker.changes)
