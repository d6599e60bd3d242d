"""The blueprints of the cases domain; the view modules add their routes to them."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cases", __name__)
exports_bp = Blueprint("exports", __name__)
