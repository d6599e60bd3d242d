"""annexes: reports and their annexes (domain.md §9) — ordered annexes of ordered blocks
(item sheets, photo figures, tables of items, the trace-request status as at the cut-off,
text), compiled per edition (public, committee, panel) to PDF and DOCX in the background,
kept as versions, frozen when the report is submitted."""
from __future__ import annotations

from .. import registry


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from .cli import annex_cli

    try:
        from .views import bp
    except ImportError:  # views land separately
        bp = None
    if bp is not None:
        app.register_blueprint(bp)
        registry.add_nav(app, "Reports", "annexes.index", order=40)
    app.cli.add_command(annex_cli)
