"""Bulk photo import: a day's photos from a folder or a ZIP, in the order they were taken.

An expert comes back from a depot with hundreds of photos from two or three cameras, a
label card photographed before each item. The package, by concern:

- :mod:`.staging`: the upload checked against the limits and saved by number;
- :mod:`.job`: the background job that receives every file, its heartbeat and retry;
- :mod:`.clocks`: camera clock corrections and the sequence in the order taken;
- :mod:`.assignment`: photos to items, from a mapping CSV or by label cards.

The row (:class:`~panel_tracker.evidence.bulk_models.BulkImport`) is the progress bar
and the report; the pages are in ``bulk_views``.
"""
from .assignment import assign_by_label_cards, items_of_case, parse_mapping
from .clocks import (camera_label, cameras, correct_clocks, format_clock_corrections, format_offset,
                     names_by_photo, parse_clock_corrections, parse_offset, photos_of)
# run_bulk_import: jobs queued before the split name it "panel_tracker.evidence.bulk.run_bulk_import".
from .job import JOB, is_dead, mark_failed, retry_bulk_import, retryable, run_bulk_import
from .staging import Upload, create_bulk_import, staging_dir, staging_root

__all__ = [
    "JOB", "Upload", "assign_by_label_cards", "camera_label", "cameras", "correct_clocks",
    "create_bulk_import", "format_clock_corrections", "format_offset", "is_dead", "items_of_case", "mark_failed",
    "names_by_photo", "parse_clock_corrections", "parse_mapping", "parse_offset", "photos_of", "retry_bulk_import",
    "retryable", "run_bulk_import", "staging_dir", "staging_root",
]
