"""Importing items in the browser: upload, map your own column names, preview, commit.

The upload waits in ``instance/imports/`` between the steps, under a random name
bound to the user and the panel, and is deleted once imported or abandoned (a day).
"""
from __future__ import annotations

import dataclasses
import json
import secrets
import time
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlmodel import select
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from .. import audit
from ..auth.access import current_panel, requires
from ..auth.models import Role
from ..db import get_session
from . import import_format
from .import_format import DEMO_ITEMS
from .blueprint import bp
from .importer import import_items, validate_import
from .models import ImportMapping

ABANDONED_AFTER = 24 * 3600
PREVIEW_ROWS = 20
_FORM_OVERHEAD = 64 * 1024  # the multipart envelope and the other fields around the file


UPDATE_LABEL = "Rows whose item reference already exists update that item"
SAMPLE_ROWS = 5
# What each column of the format holds, for the upload page (the rules are import_format's).
COLUMN_HELP = {
    "case_ref": "the case, e.g. YEM-2024-017 (a new reference opens a case)",
    "item_ref": "the item, e.g. YEM-2024-017/01",
    "category": "what kind of item it is",
    "type": "what the item is, e.g. assault rifle (AK-pattern)",
    "make_marked": "the maker's name as marked", "make_attributed": "the maker the panel attributes it to",
    "model": "", "calibre": "as marked, e.g. 7.62x39mm",
    "country_marked": "ISO 3166 alpha-3 code as marked (SUN, YUG… allowed)",
    "country_attributed": "ISO 3166 alpha-3 code the panel attributes", "year_marked": "verbatim: 1976, 85, ۱۳۹۶",
    "serial": "as read; ? for an unreadable character",
    "serial_legibility": "how well the serial reads (empty when there is no serial)",
    "lot": "", "factory_code": "", "headstamp": "", "import_mark": "", "other_marks": "",
    "quantity": "a whole number, 1 when the row has a serial",
    "condition": "the item's state, or empty",
    "recovered_on": "a day YYYY-MM-DD, a month YYYY-MM or a year YYYY", "recovered_place": "",
    "lat": "latitude in decimal degrees, e.g. 15.431", "lon": "longitude in decimal degrees, e.g. 44.207",
    "source_confidential": "yes (panel only) or no (public)", "notes": "",
}
# The values a column takes: written in the file as they are (shown as code, not as labels).
COLUMN_VALUES = {"category": import_format.CATEGORIES, "serial_legibility": import_format.LEGIBILITIES,
                 "condition": import_format.CONDITIONS}


class ImportForm(FlaskForm):
    file = FileField("Spreadsheet (CSV or XLSX)", validators=[FileRequired("Choose a file.")])
    update = BooleanField(UPDATE_LABEL)
    mapping_id = SelectField("Column names", default="", choices=[])


def _web_message(message: str) -> str:
    """An import message for the browser, which has a checkbox where the CLI has --update."""
    return message.replace("use --update to update it", f"tick “{UPDATE_LABEL}” to update it")


def _import_page(form):
    return render_template("cases/import.html", form=form, columns=import_format.COLUMNS,
                           required=import_format.REQUIRED, help=COLUMN_HELP, values=COLUMN_VALUES)


def _uploads() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.json"):
        if now - old.stat().st_mtime > ABANDONED_AFTER:
            for path in folder.glob(old.stem + ".*"):
                path.unlink(missing_ok=True)
    return folder


def _load(upload_id: str) -> tuple[dict, Path]:
    if not (len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id)):
        abort(404)
    meta_path = _uploads() / f"{upload_id}.json"
    if not meta_path.exists():
        abort(404)
    meta = json.loads(meta_path.read_text())
    if meta["user_id"] != current_user.id or meta["panel_id"] != current_panel().id:
        abort(404)
    return meta, _uploads() / f"{upload_id}.{meta['fmt']}"


def _save_meta(upload_id: str, meta: dict) -> None:
    (_uploads() / f"{upload_id}.json").write_text(json.dumps(meta))


def _discard(upload_id: str) -> None:
    for path in _uploads().glob(upload_id + ".*"):
        path.unlink(missing_ok=True)


def _mapping_choices():
    rows = get_session().exec(select(ImportMapping).where(ImportMapping.panel_id == current_panel().id)
                              .order_by(ImportMapping.name)).all()
    return [("", "exactly the documented 26 columns")] + [(str(m.id), m.name) for m in rows]


def _max_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]


def _too_large(form, size: int):
    form.file.errors = [f"The file is {size / 1e6:,.1f} MB; at most {_max_bytes() / 1e6:,.1f} MB can be "
                        f"imported. Split it into several files."]
    return _import_page(form), 413


@bp.route("/items/import", methods=["GET", "POST"])
@requires(Role.EXPERT)
def import_items_start():
    if request.method == "POST" and (request.content_length or 0) > _max_bytes() + _FORM_OVERHEAD:
        # Refused before the upload is read (building the form would read it).
        form = ImportForm(formdata=None)
        form.mapping_id.choices = _mapping_choices()
        return _too_large(form, request.content_length)
    form = ImportForm()
    form.mapping_id.choices = _mapping_choices()
    if form.validate_on_submit():
        upload = form.file.data
        fmt = Path(upload.filename or "").suffix.lower().lstrip(".")
        if fmt not in ("csv", "xlsx"):
            form.file.errors.append("Only .csv and .xlsx files can be imported.")
            return _import_page(form), 415
        upload_id = secrets.token_hex(16)
        path = _uploads() / f"{upload_id}.{fmt}"
        upload.save(path)
        if path.stat().st_size > _max_bytes():
            size = path.stat().st_size
            path.unlink()
            return _too_large(form, size)
        mapping = None
        if form.mapping_id.data:
            saved = get_session().get(ImportMapping, int(form.mapping_id.data))
            if saved is None or saved.panel_id != current_panel().id:
                abort(404)
            mapping = saved.mapping
        _save_meta(upload_id, {"user_id": current_user.id, "panel_id": current_panel().id, "fmt": fmt,
                               "filename": upload.filename, "update": form.update.data, "mapping": mapping})
        return redirect(url_for("cases.import_preview", upload_id=upload_id))
    return _import_page(form), 200 if request.method == "GET" else 400


@bp.route("/items/import/sample.csv")
@requires(Role.EXPERT)
def import_sample():
    """A few rows of the documented format (the demo's fictional items) to start from."""
    lines = DEMO_ITEMS.read_text(encoding="utf-8").splitlines(keepends=True)[:SAMPLE_ROWS + 1]
    return Response("".join(lines), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=items-sample.csv"})


def _header(path: Path, fmt: str) -> list[str]:
    """The file's header, read as the import reads it (same limits); [] when it cannot be
    read, which the preview then reports."""
    rows = _first_rows(path, fmt, 1)
    return rows[0] if rows else []


def _first_rows(path: Path, fmt: str, count: int) -> list[list[str]]:
    if path.stat().st_size > _max_bytes():
        return []
    try:
        return import_format.read_first_rows(path, fmt=fmt, count=count)
    except (import_format.ImportFormatError, OSError):
        return []


# Names people give the columns, folded (lower case, letters and digits only), beyond our own.
_OBVIOUS_NAMES = {
    "case": "case_ref", "caseref": "case_ref", "casereference": "case_ref", "caseno": "case_ref",
    "item": "item_ref", "itemref": "item_ref", "itemreference": "item_ref", "itemno": "item_ref",
    "serialno": "serial", "serialnumber": "serial", "sn": "serial", "lotno": "lot", "lotnumber": "lot",
    "caliber": "calibre", "qty": "quantity", "latitude": "lat", "longitude": "lon", "lng": "lon",
    "recovered": "recovered_on", "recoverydate": "recovered_on", "daterecovered": "recovered_on",
    "place": "recovered_place", "location": "recovered_place", "confidential": "source_confidential",
    "remarks": "notes", "comments": "notes", "legibility": "serial_legibility", "make": "make_marked",
    "manufacturer": "make_marked", "year": "year_marked", "country": "country_marked",
}


def _fold_name(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def guess_columns(header: list[str]) -> dict[str, str]:
    """Our column for each of the file's names, where it is obvious (``Case``, ``Item``,
    ``Serial no.``); a column of ours is given to one name only."""
    ours = {_fold_name(c): c for c in import_format.COLUMNS} | _OBVIOUS_NAMES
    guesses, taken = {}, set()
    for name in header:
        column = name if name in import_format.COLUMNS else ours.get(_fold_name(name), "")
        if column and column not in taken:
            guesses[name] = column
            taken.add(column)
        else:
            guesses[name] = ""
    return guesses


@bp.route("/items/import/<upload_id>", methods=["GET"])
@requires(Role.EXPERT)
def import_preview(upload_id: str):
    meta, path = _load(upload_id)
    header = _header(path, meta["fmt"])
    if meta.get("mapping") is None and header and header != list(import_format.COLUMNS):
        return redirect(url_for("cases.import_mapping", upload_id=upload_id))
    db = get_session()
    try:
        result = validate_import(db, current_panel(), path, update=meta["update"], fmt=meta["fmt"],
                                 mapping=meta.get("mapping"), max_bytes=_max_bytes())
    except ValueError as exc:  # a saved mapping that no longer fits
        flash(f"The column mapping does not fit this file: {exc}", "error")
        return redirect(url_for("cases.import_mapping", upload_id=upload_id))
    errors = [dataclasses.replace(e, message=_web_message(e.message)) for e in result.errors]
    preview, cases = [], set()
    if result.ok:
        for row in result.rows():
            cases.add(row.case_ref)
            if len(preview) < PREVIEW_ROWS:
                preview.append(row)
    return render_template("cases/import_preview.html", meta=meta, result=result, errors=errors, preview=preview,
                           cases=sorted(cases), upload_id=upload_id, form=FlaskForm()), 200 if result.ok else 422


class MappingForm(FlaskForm):
    save_as = StringField("Save this mapping as (optional)", validators=[Length(max=100)])


@bp.route("/items/import/<upload_id>/columns", methods=["GET", "POST"])
@requires(Role.EXPERT)
def import_mapping(upload_id: str):
    meta, path = _load(upload_id)
    header = _header(path, meta["fmt"])
    if not header:
        flash("The file's first line could not be read as a header.", "error")
        return redirect(url_for("cases.import_items_start"))
    form = MappingForm()
    errors = []
    if form.validate_on_submit():
        mapping = {name: request.form.get(f"col-{index}", "") for index, name in enumerate(header)}
        chosen = [ours for ours in mapping.values() if ours]
        missing = [c for c in import_format.COLUMNS if c not in chosen]
        doubled = sorted({c for c in chosen if chosen.count(c) > 1})
        if missing:
            errors.append(f"Not yet matched: {', '.join(missing)}.")
        if doubled:
            errors.append(f"Matched twice: {', '.join(doubled)}.")
        if not errors:
            if form.save_as.data:
                db = get_session()
                saved = db.exec(select(ImportMapping).where(ImportMapping.panel_id == current_panel().id,
                                                            ImportMapping.name == form.save_as.data.strip())).first()
                saved = saved or ImportMapping(panel_id=current_panel().id, name=form.save_as.data.strip(),
                                               created_by_id=current_user.id)
                saved.mapping = mapping
                db.add(saved)
                db.flush()
                audit.record(db, "import_mapping.save", obj=saved, label=saved.name, after={"mapping": mapping})
                db.commit()
            meta["mapping"] = mapping
            _save_meta(upload_id, meta)
            return redirect(url_for("cases.import_preview", upload_id=upload_id))
    guesses = guess_columns(header)
    if meta.get("mapping"):
        guesses.update(meta["mapping"])
    samples = [[row[index] for row in _first_rows(path, meta["fmt"], 4)[1:] if index < len(row) and row[index]]
               for index in range(len(header))]
    return render_template("cases/import_mapping.html", form=form, header=header, guesses=guesses, samples=samples,
                           columns=import_format.COLUMNS, help=COLUMN_HELP, errors=errors, meta=meta), \
        422 if errors else 200


@bp.route("/items/import/<upload_id>/commit", methods=["POST"])
@requires(Role.EXPERT)
def import_commit(upload_id: str):
    meta, path = _load(upload_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    db = get_session()
    report = import_items(db, current_panel(), path, actor=current_user._get_current_object(),
                          update=meta["update"], fmt=meta["fmt"], mapping=meta.get("mapping"),
                          max_bytes=_max_bytes())
    if not report.ok:
        db.rollback()
        flash("The file changed or no longer validates; nothing was imported.", "error")
        return redirect(url_for("cases.import_preview", upload_id=upload_id))
    db.commit()
    _discard(upload_id)
    flash(f"{report.summary} ({report.counts}).", "info")
    return redirect(url_for("cases.index"))
