"""The blueprint of the exports; ``views`` adds its routes to it."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
