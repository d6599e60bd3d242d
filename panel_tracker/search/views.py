"""Search pages and API endpoints."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("search", __name__)
api_bp = Blueprint("search_api", __name__, url_prefix="/api/v1/search")
