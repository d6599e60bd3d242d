"""Sanity of every request's input, checked in one place before any view runs.

What no view should have to think about, and what once made 500s:

* an id in the URL that no id column can hold (``/items/2147483648``: ids are INTEGER,
  32 bits on PostgreSQL) names nothing: 404, as any id that does not exist;
* text that cannot be stored exactly as sent — a C0 control character other than tab,
  line feed and carriage return (PostgreSQL refuses NUL), or an unpaired surrogate — in
  any query-string value, form field, uploaded file name or JSON string is refused, never
  cleaned: 400 with the field's message on pages, 422 ``{"errors": {field: message}}`` on
  the API. SQLite would store it; refusing on every backend keeps them the same;
* a page number is a whole number from 1 to :data:`MAX_PAGE` (:func:`page_number`).

Unknown values of list filters are the lists' business: pages show no match (as for an
unknown category), the API answers 422 from its input models.
"""
from __future__ import annotations

from typing import NoReturn

from flask import abort, jsonify, make_response, render_template, request

from .validation import unstorable_character

# The largest id, and the largest whole number the API takes: the range of an INTEGER
# column on PostgreSQL (SQLite's holds 64 bits; both backends must answer alike).
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000  # far past any list; keeps OFFSET well inside a 64-bit integer


def init_app(app) -> None:
    app.before_request(refuse_hostile_input)
    app.add_template_global(query_args)


def _api() -> bool:
    return request.path.startswith("/api/")


def refuse(errors: dict[str, str]) -> NoReturn:
    """Stop the request: 422 ``{"errors": …}`` on the API, a 400 page naming each field."""
    if _api():
        abort(make_response(jsonify(errors=errors), 422))
    message = "Nothing was saved. " + " ".join(f"{name or 'The request'}: {text}" for name, text in errors.items())
    abort(make_response(render_template("errors/error.html", code=400, name="Bad Request", message=message), 400))


def whole_number(text: str | None, maximum: int = MAX_ID) -> int | None:
    """``text`` as an int when it is ASCII digits from 0 to ``maximum``, else None.
    (``str.isdigit`` also accepts "²" and "١", which ``int()`` refuses or reads.)"""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(maximum)) or int(significant) > maximum:
        return None
    return int(significant)


def page_number() -> int:
    """``?page=`` of a list page: absent or empty is 1; anything but a whole number from 1
    to MAX_PAGE is refused (400), as the API refuses it (422)."""
    text = request.args.get("page", "")
    if text == "":
        return 1
    number = whole_number(text, MAX_PAGE)
    if not number:
        refuse({"page": f"A page is a whole number from 1 to {MAX_PAGE:,}."})
    return number


def refuse_hostile_input() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            abort(404)
        if isinstance(value, str) and unstorable_character(value):
            abort(404)
    errors: dict[str, str] = {}

    def check(name: str, text) -> None:
        if isinstance(text, str):
            problem = unstorable_character(text)
            if problem and name not in errors:
                errors[name] = problem

    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            check(name, name)
            check(name, value)
    for name, upload in request.files.items(multi=True):
        check(name, upload.filename)
    if request.is_json:
        data = request.get_json(silent=True)
        for name, value in (data.items() if isinstance(data, dict) else [("", data)]):
            check(name, name)
            for text in _strings(value):
                check(name, text)
    if errors:
        refuse(errors)


def _strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def known(enum_cls, text: str):
    """The member of ``enum_cls`` whose value is ``text``, or None: a list filter compares
    with None, which matches no row of a column that is never empty (an unknown status or
    classification shows no match, as an unknown category does)."""
    return next((member for member in enum_cls if member.value == text), None)


def query_args(args, **overrides) -> dict:
    """A list page's query string, to build its next-page and export links with ``url_for``:
    without the names ``url_for`` itself takes (``endpoint``, ``_external``, ``_scheme``…),
    which a hand-typed URL could carry, and with ``overrides`` applied."""
    return {**{name: value for name, value in args.items() if name != "endpoint" and not name.startswith("_")},
            **overrides}
