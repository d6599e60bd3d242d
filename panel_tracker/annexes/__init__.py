"""annexes: reports and their annexes (domain.md §9) — ordered annexes of ordered blocks
(item sheets, photo figures, tables of items, the trace-request status as at the cut-off,
text), compiled per edition (public, committee, panel) to PDF and DOCX in the background,
kept as versions, frozen when the report is submitted."""
from __future__ import annotations

from .. import changes, registry


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from .builds import withdraw_builds_of_purged
    from .cli import annex_cli
    from .prints import ACTIONS, prepare_ahead
    from .views import bp, case_quick_annex, item_publications

    app.register_blueprint(bp)
    registry.add_nav(app, "Reports", "annexes.index", order=40)
    # The item page says where the item was published ("S/2025/123, annex 12"): cases
    # never imports this package, it asks the registry.
    registry.add_page_data(app, "item", item_publications)
    registry.add_section(app, "item.after_sightings", "annexes/_item_publications.html")
    # The case page builds a quick annex of the case's item sheets (as `annex quick` does).
    registry.add_page_data(app, "case", case_quick_annex)
    registry.add_section(app, "case.after_items", "annexes/_case_quick_annex.html", order=80)
    app.cli.add_command(annex_cli)
    # Print derivatives are made when a photo lands on an item or in a block, not at build time.
    changes.subscribe(app, prepare_ahead, actions=ACTIONS)
    # A purged photo's bytes do not survive in an annex build either.
    changes.subscribe(app, withdraw_builds_of_purged, actions={"photo.purge"})
