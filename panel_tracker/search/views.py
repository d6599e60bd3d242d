"""Search pages (search, batch lists, patterns, items side by side, saved searches) and
the search API. Thin: read the input, call query/patterns/services, render."""
from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ..auth.access import clearance, current_panel, has_role, panel_id, requires
from ..auth.models import Role
from ..cases.models import Category, Item, Legibility
from ..db import get_session
from ..extensions import csrf
from ..formutil import show_errors
from ..inputs import page_number, whole_number
from ..validation import Invalid
from . import patterns, query, services
from .forms import BatchForm, DateFiltersForm, DeleteSavedForm, SaveSearchForm
from .models import SavedSearch

bp = Blueprint("search", __name__)
api_bp = Blueprint("search_api", __name__, url_prefix="/api/v1/search")
csrf.exempt(api_bp)

PER_PAGE = 50
MAX_BATCH_LINES = 5000


def _date_filters(args) -> DateFiltersForm:
    """The period filters of ``args`` (a query string, or a saved search's dict), parsed."""
    form = DateFiltersForm(formdata=args if isinstance(args, MultiDict) else MultiDict(args))
    form.validate()
    return form


def _filters(args) -> tuple[query.Filters, dict]:
    """The advanced form's filters from query-string values, and any error by field."""
    period = _date_filters(args)
    errors = {name: period[name].errors[0] for name in ("recovered_from", "recovered_to") if period[name].errors}
    dates = {name: period[name].data for name in ("recovered_from", "recovered_to")}
    filters = query.Filters(case=(args.get("case") or "").strip(), category=(args.get("category") or "").strip(),
                            country=(args.get("country") or "").strip().upper(),
                            legibility=(args.get("legibility") or "").strip(), **dates)
    if filters.category and filters.category not in {c.value for c in Category}:
        errors["category"] = f"{filters.category!r} is not a category."
    if filters.legibility and filters.legibility not in {l.value for l in Legibility} | {"none"}:
        errors["legibility"] = f"{filters.legibility!r} is not a legibility."
    if filters.recovered_from and filters.recovered_to and filters.recovered_from > filters.recovered_to:
        errors["recovered_to"] = "The end of the period is before its start."
    return filters, errors


def _page() -> int:
    return page_number()


# ------------------------------------------------------------------ pages


@bp.route("/search")
@requires(Role.VIEWER)
def index():
    from .. import countries

    text = request.args.get("q", "")
    filters, errors = _filters(request.args)
    result, page = None, _page()
    if (text.strip() or filters.any()) and not errors:
        result = query.search(current_panel(), text, clearance=clearance(), filters=filters,
                              limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    save_form = SaveSearchForm(query=text, filters=json.dumps({k: v for k, v in request.args.items()
                                                              if k in services.FILTER_NAMES and v}))
    return render_template("search/index.html", q=text, args=request.args, result=result, errors=errors, page=page,
                           period=_date_filters(request.args),
                           more=bool(result and result.total > page * PER_PAGE), per_page=PER_PAGE,
                           categories=list(Category), legibilities=list(Legibility),
                           countries=countries.choices("any"), save_form=save_form), (422 if errors else 200)


def _batch_lines(form: BatchForm) -> list[str]:
    upload = form.file.data
    if upload and getattr(upload, "filename", ""):
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid({"file": "The file is not UTF-8 text."}) from None
        if upload.filename.lower().endswith(".csv"):
            return [row[0] if row else "" for row in csv.reader(io.StringIO(text))]
        return text.splitlines()
    return (form.lines.data or "").splitlines()


@bp.route("/search/batch", methods=["GET", "POST"])
@requires(Role.VIEWER)
def batch():
    form = BatchForm()
    results, status = None, 200
    if form.validate_on_submit():
        try:
            lines = _batch_lines(form)
            if not any(line.strip() for line in lines):
                raise Invalid({"lines": "Paste at least one serial, or choose a file."})
            if len(lines) > MAX_BATCH_LINES:
                raise Invalid({"lines": f"At most {MAX_BATCH_LINES} lines at a time ({len(lines)} given)."})
        except Invalid as exc:
            show_errors(form, exc.errors)
            status = 422
        else:
            results = query.batch(current_panel(), lines, clearance=clearance(), limit=form.limit.data or 20)
            if form.download.data == "csv":
                return _batch_csv(results)
    elif request.method == "POST":
        status = 422
    return render_template("search/batch.html", form=form, results=results), status


def _batch_csv(results) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["line", "query", "item_ref", "case_ref", "field", "matched", "score"])
    for number, r in enumerate(results, 1):
        if not r["hits"]:
            writer.writerow([number, r["query"], "", "", "", "", ""])
        for hit in r["hits"]:
            writer.writerow([number, r["query"], hit.item_ref, hit.case_ref, hit.field, hit.matched, hit.score])
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={current_panel().code}-batch-search.csv"})


def _int_arg(name: str, default: int, low: int, high: int) -> tuple[int, str | None]:
    value = request.args.get(name, "")
    if not value.strip():
        return default, None
    number = whole_number(value.strip(), high)
    if number is None or number < low:
        return default, f"{name.replace('_', ' ')} must be a whole number from {low} to {high}."
    return number, None


@bp.route("/search/patterns")
@requires(Role.VIEWER)
def patterns_page():
    gap, gap_error = _int_arg("gap", 10, 0, 1_000_000)
    min_cases, cases_error = _int_arg("min_cases", 2, 2, 10_000)
    errors = {k: v for k, v in (("gap", gap_error), ("min_cases", cases_error)) if v}
    groups = patterns.find_patterns(patterns.panel_rows(get_session(), panel_id(), clearance()),
                                    gap=gap, min_cases=min_cases)
    kind = request.args.get("kind", "")
    if kind:
        groups = [g for g in groups if g.kind == kind]
    return render_template("search/patterns.html", groups=groups, gap=gap, min_cases=min_cases, kind=kind,
                           kinds=patterns.KINDS, errors=errors), (422 if errors else 200)


@bp.route("/search/compare")
@requires(Role.VIEWER)
def compare():
    """Items side by side (a pattern group); each must be visible to the reader."""
    from ..cases.models import Case
    from ..cases.queries import load_or_404, markings_by_item

    ids = [i for i in map(whole_number, request.args.getlist("item")) if i is not None][:30]
    items = [load_or_404(Item, i) for i in ids]
    cases = {i.case_id: load_or_404(Case, i.case_id) for i in items}
    return render_template("search/compare.html", items=items, cases=cases, markings=markings_by_item(ids),
                           title=request.args.get("title", ""))


@bp.route("/search/saved", methods=["GET", "POST"])
@requires(Role.VIEWER)
def saved():
    db = get_session()
    form = SaveSearchForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                filters = json.loads(form.filters.data or "{}")
                filters = filters if isinstance(filters, dict) else {}
            except ValueError:
                filters = {}
            try:
                saved_search = services.save_search(db, current_panel(), current_user, form.name.data,
                                                    form.query.data, filters,
                                                    notify=bool(form.notify.data) and has_role(Role.EXPERT))
                db.commit()
            except Invalid as exc:
                db.rollback()
                show_errors(form, exc.errors)
            else:
                flash(f"Search “{saved_search.name}” saved.", "info")
                return redirect(url_for("search.saved"))
        searches = services.saved_searches(db, panel_id(), current_user.id)
        return render_template("search/saved.html", searches=searches, form=form, delete_form=DeleteSavedForm()), 422
    searches = services.saved_searches(db, panel_id(), current_user.id)
    return render_template("search/saved.html", searches=searches, form=None, delete_form=DeleteSavedForm())


def _own_saved_or_404(saved_id: int) -> SavedSearch:
    saved_search = get_session().get(SavedSearch, saved_id)
    if saved_search is None or saved_search.panel_id != panel_id() or saved_search.user_id != current_user.id:
        abort(404)
    return saved_search


@bp.route("/search/saved/<int:saved_id>")
@requires(Role.VIEWER)
def open_saved(saved_id: int):
    db = get_session()
    saved_search = _own_saved_or_404(saved_id)
    services.mark_seen(db, saved_search)
    db.commit()
    return redirect(url_for("search.index", q=saved_search.query, **saved_search.filters))


@bp.route("/search/saved/<int:saved_id>/delete", methods=["POST"])
@requires(Role.VIEWER)
def delete_saved(saved_id: int):
    db = get_session()
    saved_search = _own_saved_or_404(saved_id)
    if DeleteSavedForm().validate_on_submit():
        services.delete_saved_search(db, saved_search, current_user)
        db.commit()
        flash("Saved search deleted.", "info")
    return redirect(url_for("search.saved"))


def news_for_dashboard() -> list[tuple[SavedSearch, int]]:
    """The current user's saved searches with notification, and how many new items match."""
    if current_panel() is None or not current_user.is_authenticated or g.get("api_user"):
        return []
    db = get_session()
    news = []
    for saved_search in services.saved_searches(db, panel_id(), current_user.id):
        if not saved_search.notify:
            continue
        filters, errors = _filters(saved_search.filters)
        ids = [] if errors else query.item_ids(current_panel(), saved_search.query, clearance=clearance(),
                                               filters=filters)
        count = services.new_matches(db, saved_search, ids)
        if count:
            news.append((saved_search, count))
    return news


# ------------------------------------------------------------------ API


def _api_errors(errors: dict):
    return jsonify(errors=errors), 422


def _api_hit(hit: query.Hit) -> dict:
    body = hit.public()
    body.update(item_id=hit.item_id, item_url=url_for("api.get_item", item_id=hit.item_id))
    return body


@api_bp.get("")
@requires(Role.VIEWER)
def api_search():
    text = request.args.get("q", "")
    limit, limit_error = _int_arg("limit", 20, 1, 1000)
    offset, offset_error = _int_arg("offset", 0, 0, 10_000_000)
    filters, errors = _filters(request.args)
    errors.update({k: v for k, v in (("limit", limit_error), ("offset", offset_error)) if v})
    if len(text) > 500:
        errors["q"] = "At most 500 characters."
    if not text.strip() and not filters.any():
        errors.setdefault("q", "Give a query (q) or a filter.")
    if errors:
        return _api_errors(errors)
    result = query.search(current_panel(), text, clearance=clearance(), filters=filters, limit=limit, offset=offset)
    return jsonify(query=text, total=result.total, hits=[_api_hit(h) for h in result.hits])


@api_bp.post("/batch")
@requires(Role.VIEWER)
def api_batch():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list) \
            or not all(isinstance(line, str) for line in body["lines"]):
        return _api_errors({"lines": "Send JSON {\"lines\": [\"serial\", ...], \"limit\": 20}."})
    limit = body.get("limit", 20)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        return _api_errors({"limit": "A whole number from 1 to 1000."})
    if len(body["lines"]) > MAX_BATCH_LINES:
        return _api_errors({"lines": f"At most {MAX_BATCH_LINES} lines at a time."})
    results = query.batch(current_panel(), body["lines"], clearance=clearance(), limit=limit)
    return jsonify([{"query": r["query"], "hits": [_api_hit(h) for h in r["hits"]]} for r in results])


@api_bp.get("/patterns")
@requires(Role.VIEWER)
def api_patterns():
    gap, gap_error = _int_arg("gap", 10, 0, 1_000_000)
    min_cases, cases_error = _int_arg("min_cases", 2, 2, 10_000)
    errors = {k: v for k, v in (("gap", gap_error), ("min_cases", cases_error)) if v}
    if errors:
        return _api_errors(errors)
    groups = patterns.find_patterns(patterns.panel_rows(get_session(), panel_id(), clearance()),
                                    gap=gap, min_cases=min_cases)
    return jsonify([g.public() for g in groups])
