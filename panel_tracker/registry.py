"""What each domain adds to the app when it registers itself (``<domain>.init_app(app)``):
entries of the top navigation and figures of the dashboard.

Kept per app (in ``app.extensions``), so two apps in one process (tests) never share them.
Templates read :func:`nav_entries`; the dashboard reads :func:`dashboard_figures`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from .auth.access import has_role
from .auth.models import Role

EXTENSION_KEY = "panel_tracker.registry"


@dataclass(frozen=True)
class NavEntry:
    label: str
    endpoint: str
    role: Role  # the least role that sees the entry
    order: int


@dataclass
class _Registry:
    nav: list[NavEntry]
    figures: list[Callable[[], dict]]


def _registry(app) -> _Registry:
    return app.extensions.setdefault(EXTENSION_KEY, _Registry(nav=[], figures=[]))


def add_nav(app, label: str, endpoint: str, *, role: Role = Role.VIEWER, order: int = 50) -> None:
    """A link in the top bar, shown to members of the current panel with at least ``role``."""
    _registry(app).nav.append(NavEntry(label, endpoint, Role(role), order))


def add_dashboard_figures(app, figures: Callable[[], dict]) -> None:
    """``figures()`` returns {name: number} for the current panel, counted as the user may see."""
    _registry(app).figures.append(figures)


def nav_entries() -> list[NavEntry]:
    """The current user's entries, in order."""
    entries = sorted(_registry(current_app).nav, key=lambda e: e.order)
    return [entry for entry in entries if has_role(entry.role)]


def dashboard_figures() -> dict:
    figures: dict = {}
    for contribute in _registry(current_app).figures:
        figures.update(contribute())
    return figures
