"""Who may see what: one rule, called by every door (pages, API, exports, bulk import, audit).

A :class:`Reader` is a panel, a clearance and (optionally) a user; nothing here reads the
request (``cases.queries.reader()`` builds one from it). Each domain registers its models::

    visibility.register(Item, parents={"case_id": Case}, references={"sighting_of_id": Item},
                        withheld=[Withheld("source", Item.SOURCE_FIELDS, lambda item: item.source_classification)])

and then, for any registered model:

* an object is **visible** to a reader when it is of the reader's panel, not deleted nor
  purged, classified at or below the reader's clearance (if it has a classification), passes
  the model's ``extra_condition(reader)`` (per-object access lists), and every parent it
  points at is visible by the same rule (a nullable parent id may be empty);
* a **reference** (an id of another object that is not a parent: an item's inspection, the
  first sighting) is shown only when the object it names is visible, else it is null;
* a **withheld** group of fields of a visible object is replaced (by ``None``, or by what
  ``redact`` leaves) when its level is above the reader's clearance.

The same statements serve SQL (:func:`visible`, :func:`visible_ids`) and loaded objects
(:func:`shown`, :func:`references`), so lists, counts, single objects and exports agree.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from .classification import Classification, coerce, may_see, most_restrictive, where_visible

#: Columns that, when set, put an object out of sight for everyone (soft delete, purge).
GONE_COLUMNS = ("deleted_at", "purged_at")


@dataclass(frozen=True)
class Reader:
    """Who is reading: the panel, the highest classification they may see, and who they are
    (for per-object access lists)."""

    panel_id: int
    clearance: Classification
    user_id: int | None = None

    @property
    def panel_level(self) -> bool:
        return self.clearance == Classification.PANEL


@dataclass(frozen=True)
class Withheld:
    """Fields of a visible object that need their own level.

    ``level`` is a classification or a function of the object (an item's source details carry
    ``source_classification``). A reader below it gets ``redact(name, value)`` instead of
    the value (``None`` by default).
    """

    name: str
    fields: tuple[str, ...]
    level: Classification | Callable[[Any], Classification]
    redact: Callable[[str, Any], Any] | None = None

    def level_of(self, obj) -> Classification:
        return coerce(self.level(obj) if callable(self.level) else self.level)


@dataclass
class Rule:
    model: type
    parents: dict[str, type] = field(default_factory=dict)
    references: dict[str, type] = field(default_factory=dict)
    withheld: tuple[Withheld, ...] = ()
    extra_condition: Callable[[Reader], Any] | None = None


_RULES: dict[type, Rule] = {}


def register(model, *, parents: dict[str, type] | None = None, references: dict[str, type] | None = None,
             withheld: Iterable[Withheld] = (), extra_condition: Callable[[Reader], Any] | None = None) -> None:
    """Declare ``model``'s parents (``{fk attribute: parent model}``), references, withheld field
    groups and an optional ``extra_condition(reader)`` (a SQL condition on ``model``, or None)."""
    _RULES[model] = Rule(model, dict(parents or {}), dict(references or {}), tuple(withheld), extra_condition)


def rule(model) -> Rule:
    try:
        return _RULES[model]
    except KeyError:
        raise LookupError(f"{model.__name__} is not registered with panel_tracker.visibility") from None


def model_for_table(name: str):
    """The registered model stored in table ``name`` (audit records name objects by table)."""
    return next((m for m in _RULES if getattr(m, "__tablename__", None) == name), None)


# ------------------------------------------------------------------ SQL


def conditions(model, reader: Reader) -> list:
    """SQL conditions on ``model`` for what ``reader`` may see of it, parents included."""
    r = rule(model)
    where = [model.panel_id == reader.panel_id]
    where += [getattr(model, name).is_(None) for name in GONE_COLUMNS if hasattr(model, name)]
    if hasattr(model, "classification"):
        where.append(where_visible(model.classification, reader.clearance))
    if r.extra_condition is not None:
        extra = r.extra_condition(reader)
        if extra is not None:
            where.append(extra)
    for fk, parent in r.parents.items():
        column = getattr(model, fk)
        inside = column.in_(visible_ids(parent, reader))
        where.append(sa.or_(column.is_(None), inside) if model.__table__.c[fk].nullable else inside)
    return where


def visible(model, reader: Reader):
    """``select(model)`` restricted to what ``reader`` may see."""
    return select(model).where(*conditions(model, reader))


def visible_ids(model, reader: Reader):
    """``select(model.id)`` of what ``reader`` may see (for ``IN`` subqueries)."""
    return select(model.id).where(*conditions(model, reader))


def load(db, model, object_id, reader: Reader):
    """One object by id if ``reader`` may see it, else None."""
    if object_id is None:
        return None
    return db.exec(visible(model, reader).where(model.id == object_id)).first()


def visible_among(db, model, ids: Iterable[int | None], reader: Reader) -> set[int]:
    """Which of ``ids`` name objects ``reader`` may see."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    return set(db.exec(visible_ids(model, reader).where(model.id.in_(wanted))).all())


# ------------------------------------------------------------------ fields of a visible object


def withheld_groups(obj, reader: Reader) -> set[str]:
    """Names of the field groups of ``obj`` withheld from ``reader``."""
    return {w.name for w in rule(type(obj)).withheld if not may_see(reader.clearance, w.level_of(obj))}


def withheld_fields(obj, reader: Reader) -> set[str]:
    return {name for w in rule(type(obj)).withheld if not may_see(reader.clearance, w.level_of(obj))
            for name in w.fields}


def field_levels(obj, model=None) -> dict[str, Classification]:
    """The level each withheld field of ``obj`` needs (to mask old values in its history).
    ``model``: the registered model of ``obj`` when it is a database row, not an instance."""
    return {name: w.level_of(obj) for w in rule(model or type(obj)).withheld for name in w.fields}


def references(db, objs: list, reader: Reader) -> dict[int, dict[str, int | None]]:
    """For each object, its reference ids as ``reader`` may see them (null when the object
    referred to is hidden). One query per reference field."""
    if not objs:
        return {}
    r = rule(type(objs[0]))
    seen = {name: visible_among(db, target, (getattr(o, name) for o in objs), reader)
            for name, target in r.references.items()}
    return {o.id: {name: (getattr(o, name) if getattr(o, name) in seen[name] else None) for name in r.references}
            for o in objs}


def shown(obj, reader: Reader, names: Iterable[str] | None = None, *, refs: dict[str, int | None] | None = None) -> dict:
    """``obj``'s values (``names``, default every field) as ``reader`` may see them: withheld
    fields redacted, references as given by :func:`references` (``refs``; hidden when omitted)."""
    r = rule(type(obj))
    names = list(names) if names is not None else list(type(obj).model_fields)
    values = {name: getattr(obj, name) for name in names}
    for w in r.withheld:
        if not may_see(reader.clearance, w.level_of(obj)):
            for name in w.fields:
                if name in values:
                    values[name] = w.redact(name, values[name]) if w.redact else None
    for name in r.references:
        if name in values:
            values[name] = (refs or {}).get(name)
    return values


# ------------------------------------------------------------------ today's level, for masking the audit log
# (audit.masked applies it to a record's before/after)


def current_levels(db, object_type: str, object_id: int | None) -> tuple[Classification | None, dict]:
    """How an object is classified today, through its parents (a marking is as restricted as
    its item and case), and its withheld fields' levels; ``(None, {})`` when unknown.
    The audit view and an item's history mask old values by these when they are stricter."""
    model = model_for_table(object_type)
    obj = db.get(model, object_id) if model is not None and object_id is not None else None
    if obj is None:
        return None, {}
    return effective_level(db, obj), {k: v.value for k, v in field_levels(obj).items()}


def effective_level(db, obj) -> Classification:
    levels = []
    while obj is not None:
        if hasattr(obj, "classification"):
            levels.append(obj.classification)
        parents = [db.get(parent, getattr(obj, fk)) for fk, parent in rule(type(obj)).parents.items()
                   if getattr(obj, fk) is not None]
        for extra in parents[1:]:
            levels.append(effective_level(db, extra))
        obj = parents[0] if parents else None
    return most_restrictive(*levels) if levels else Classification.PUBLIC
