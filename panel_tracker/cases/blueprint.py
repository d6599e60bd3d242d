"""The blueprint of the cases domain; the view modules add their routes to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cases", __name__)
