"""Classification of what the panel holds (domain.md §8): the levels and each role's clearance.

``public`` < ``committee`` < ``panel``. Everything new starts ``panel``. Which objects and
fields a reader may see, through their parents, is decided by :mod:`panel_tracker.visibility`,
which every output asks.
"""
from __future__ import annotations

from enum import Enum


class Classification(str, Enum):
    PUBLIC = "public"
    COMMITTEE = "committee"
    PANEL = "panel"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return {"public": "Public", "committee": "Committee", "panel": "Panel only"}[self.value]

    def __str__(self) -> str:  # templates print the value
        return self.value


_RANK = {Classification.PUBLIC: 0, Classification.COMMITTEE: 1, Classification.PANEL: 2}

DEFAULT = Classification.PANEL

# The highest classification each role may see. Viewers (e.g. committee liaison,
# read-only staff) see public and committee material only.
ROLE_CLEARANCE = {
    "viewer": Classification.COMMITTEE,
    "expert": Classification.PANEL,
    "coordinator": Classification.PANEL,
    "admin": Classification.PANEL,
}


def coerce(value) -> Classification:
    return value if isinstance(value, Classification) else Classification(value)


def clearance_for(role) -> Classification:
    return ROLE_CLEARANCE[getattr(role, "value", role)]


def may_see(clearance: Classification, level) -> bool:
    return coerce(level).rank <= clearance.rank


def visible_levels(clearance: Classification) -> list[str]:
    return [c.value for c in Classification if c.rank <= clearance.rank]


def where_visible(column, clearance: Classification):
    """A SQL condition restricting ``column`` to levels ``clearance`` may see."""
    return column.in_(visible_levels(clearance))


def most_restrictive(*levels) -> Classification:
    return max((coerce(level) for level in levels if level), key=lambda c: c.rank, default=DEFAULT)

