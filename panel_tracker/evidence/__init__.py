"""evidence: photos as evidence — the content-addressed store, ingest, pages, bulk import.

Evidence depends on cases (a photo belongs to a case and an item), never the other way: what
it shows on the case and item pages, and the item list's ``has_photos`` filter, are
registered here (:mod:`panel_tracker.registry`)."""
from __future__ import annotations

from .. import changes, registry
from .debris import clean_on_start
from .feed import destroy_purged_bytes, photos_of_cases, photos_of_items


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from . import bulk_views, queries, views  # noqa: F401  (they add their routes to the blueprint)
    from .blueprint import bp
    from .cli import evidence_cli

    app.register_blueprint(bp)
    app.cli.add_command(evidence_cli)
    registry.add_dashboard_figures(app, queries.dashboard_figures)
    registry.add_list_filter(app, "items", "has_photos", queries.filter_has_photos)
    # On the case page: a thumbnail per item, the photos not yet assigned.
    registry.add_page_data(app, "case", queries.case_page)
    registry.add_section(app, "case.items.head", "evidence/_case_items_head.html")
    registry.add_section(app, "case.items.row", "evidence/_case_item_thumb.html")
    registry.add_section(app, "case.after_items", "evidence/_case_unassigned_photos.html")
    # On the item page: the photos showing each marking (and linking one), the item's photos.
    registry.add_page_data(app, "item", queries.item_page)
    registry.add_section(app, "item.marking", "evidence/_marking_photos.html")
    registry.add_section(app, "item.marking.expert", "evidence/_marking_link_photo.html")
    registry.add_section(app, "item.after_markings", "evidence/_item_photos.html")
    changes.subscribe(app, destroy_purged_bytes, actions={"photo.purge"})
    changes.add_children(app, "case_file", photos_of_cases)
    changes.add_children(app, "item", photos_of_items)
    clean_on_start(app)  # what a killed upload or import left behind
