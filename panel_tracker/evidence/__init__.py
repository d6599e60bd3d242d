"""evidence: photos as evidence — the content-addressed store, ingest, pages, bulk import."""
from __future__ import annotations

from .. import changes
from .debris import clean_on_start
from .feed import destroy_purged_bytes, photos_of_cases, photos_of_items


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever a model of this package is imported.
    from . import bulk_views, views  # noqa: F401  (they add their routes to the blueprint)
    from .blueprint import bp
    from .cli import evidence_cli

    app.register_blueprint(bp)
    app.cli.add_command(evidence_cli)
    changes.subscribe(app, destroy_purged_bytes, actions={"photo.purge"})
    changes.add_children(app, "case_file", photos_of_cases)
    changes.add_children(app, "item", photos_of_items)
    clean_on_start(app)  # what a killed upload or import left behind
