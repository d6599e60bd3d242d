"""The classification and delete forms that case, item, marking and photo pages all post:
one handler each, shared by every page (and by the evidence domain's photo pages)."""
from __future__ import annotations

from flask import flash, redirect, request
from flask_login import current_user

from ..db import get_session
from ..validation import Invalid
from . import services
from .forms import ClassifyForm, DeleteForm


def _actor():
    return current_user._get_current_object()


def delete_and_redirect(obj, back: str, done: str = "Deleted. The record and its history stay in the audit log."):
    """The soft delete of any page's delete form (reason required), then back."""
    form = DeleteForm()
    db = get_session()
    if form.validate_on_submit():
        try:
            services.soft_delete(db, obj, _actor(), form.reason.data)
            db.commit()
            flash(done, "info")
            return redirect(back)
        except Invalid as exc:
            db.rollback()
            flash(next(iter(exc.errors.values())), "error")
    else:
        flash("Say why it is deleted; the reason goes into the audit log.", "error")
    return redirect(request.referrer or back)


def classify_and_redirect(obj, back: str):
    """The reclassification of any page's classification form, then back."""
    form = ClassifyForm()
    db = get_session()
    field = form.field.data if form.field.data in ("classification", "source_classification") else "classification"
    if form.validate_on_submit() and hasattr(obj, field):
        try:
            services.reclassify(db, obj, form.level.data, _actor(), field=field,
                                confirm_public=form.confirm_public.data)
            db.commit()
            flash(f"Classification set to {form.level.data}.", "info")
        except Invalid as exc:
            db.rollback()
            flash(next(iter(exc.errors.values())), "error")
    return redirect(back)
