"""Flask extensions: Flask-Login for sessions, Flask-WTF's CSRF protection on every POST."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from .auth.models import User
from .db import get_session

login_manager = LoginManager()
csrf = CSRFProtect()


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    csrf.init_app(app)

    @login_manager.user_loader
    def load_user(user_id: str):
        user = get_session().get(User, int(user_id))
        return user if user is not None and user.active else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.blueprint == "api" or request.path.startswith("/api/"):
            abort(401)
        flash("Please log in.", "info")
        # full_path ends in "?" when there is no query string.
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=back))
