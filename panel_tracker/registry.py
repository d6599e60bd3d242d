"""What each domain adds to the app when it registers itself (``<domain>.init_app(app)``):
entries of the top navigation, figures of the dashboard, and what it shows on, or filters
in, another domain's pages.

The last two keep the dependencies between domains one way: a page of one domain (cases'
item page) asks the registry for what other domains show there (evidence: the item's
photos) and never imports them; the other domain registers its part from its ``init_app``.

* **sections**: partial templates rendered in a named *slot* of a page (``item.marking``,
  under each marking of the item page); templates call ``sections(slot)`` and include each;
* **page data**: the variables those partials need, computed once per page from the page's
  objects (:func:`add_page_data`, read by the page's view through :func:`page_data`);
* **list filters**: a filter of the item or case list by its query-string name (evidence's
  ``has_photos``, search's ``q``), applied by pages, the API and exports alike.

Kept per app (in ``app.extensions``), so two apps in one process (tests) never share them.
Templates read :func:`nav_entries`; the dashboard reads :func:`dashboard_figures`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Section:
    slot: str  # "<page>.<place>": "item.marking", "case.items.row"…
    template: str
    order: int


@dataclass
class _Registry:
    nav: list[NavEntry] = field(default_factory=list)
    figures: list[Callable[[], dict]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    page_data: dict[str, list[Callable[..., dict]]] = field(default_factory=dict)
    list_filters: dict[str, dict[str, Callable]] = field(default_factory=dict)


def _registry(app) -> _Registry:
    return app.extensions.setdefault(EXTENSION_KEY, _Registry())


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


# ------------------------------------------------------------------ another domain's pages


def add_section(app, slot: str, template: str, *, order: int = 50) -> None:
    """Render ``template`` in ``slot`` of another domain's page. It sees the page's variables
    (those of :func:`add_page_data` included) and, inside a loop, the loop's (``m``, ``it``)."""
    _registry(app).sections.append(Section(slot, template, order))


def sections(slot: str) -> list[str]:
    """In templates: the partials registered for ``slot``, in order."""
    found = sorted((s for s in _registry(current_app).sections if s.slot == slot), key=lambda s: s.order)
    return [s.template for s in found]


def add_page_data(app, page: str, data: Callable[..., dict]) -> None:
    """``data(**objects)`` returns {name: value} for the sections of ``page`` (the page's view
    passes its objects: ``case=`` on ``case``, ``item=``, ``case=``, ``markings=`` on ``item``)."""
    _registry(app).page_data.setdefault(page, []).append(data)


def page_data(page: str, **objects) -> dict:
    """The variables every domain adds to ``page``, for its template."""
    variables: dict = {}
    for data in _registry(current_app).page_data.get(page, []):
        added = data(**objects)
        clash = set(added) & set(variables)
        if clash:
            raise RuntimeError(f"page {page}: two domains add {', '.join(sorted(clash))}")
        variables.update(added)
    return variables


def add_list_filter(app, listing: str, name: str, apply: Callable) -> None:
    """A filter of ``listing`` (``items`` or ``cases``) named ``name`` in its query string:
    ``apply(stmt, value, reader)`` returns ``stmt`` (a select of the listing's model) narrowed
    to the value (unchanged for a blank one), counting only what ``reader`` may see."""
    _registry(app).list_filters.setdefault(listing, {})[name] = apply


def list_filters(listing: str) -> dict[str, Callable]:
    """The filters other domains add to ``listing``, by name."""
    return dict(_registry(current_app).list_filters.get(listing, {}))
