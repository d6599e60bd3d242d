"""The marking search as the ``q`` filter of the item and case lists (pages, API, exports),
registered from :func:`panel_tracker.search.init_app` (``registry.add_list_filter``), so the
cases domain never imports search: within the reader's clearance."""
from __future__ import annotations

import sqlalchemy as sa

from ..auth.models import Panel
from ..cases.models import Case, Item
from ..db import get_session
from ..visibility import Reader
from .query import case_ids, item_ids


def filter_items(stmt, text: str, reader: Reader):
    """Items the search finds for ``text``."""
    if not text.strip():
        return stmt
    ids = item_ids(get_session().get(Panel, reader.panel_id), text, clearance=reader.clearance)
    return stmt.where(Item.id.in_(sa.bindparam("search_ids", ids, expanding=True, literal_execute=True)))


def filter_cases(stmt, text: str, reader: Reader):
    """Cases whose own fields match ``text``, or holding an item that matches."""
    if not text.strip():
        return stmt
    found = case_ids(get_session().get(Panel, reader.panel_id), text, clearance=reader.clearance)
    return stmt.where(Case.id.in_(sorted(found)))
