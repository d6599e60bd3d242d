"""The blueprint of the evidence domain; ``views`` and ``bulk_views`` add their routes to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("evidence", __name__)
