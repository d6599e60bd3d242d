"""exports: a case or a filtered item list as CSV, XLSX or a full-fidelity ZIP.

Above both cases and evidence (an export holds items, markings and photos), so that neither
imports the other's way: ``selection`` decides what an export holds for a reader,
``writers`` writes the files, ``services`` checks the form and records the export in the
audit log, ``views`` serves the downloads (``/cases/<id>/export``, ``/items/export``).
"""
from __future__ import annotations


def init_app(app) -> None:
    # The web layer loads when an app is built, not whenever selection or writers are imported.
    from . import views  # noqa: F401  (it adds its routes to the blueprint)
    from .blueprint import bp

    app.register_blueprint(bp)
