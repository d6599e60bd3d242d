"""Error pages a person can act on; never a stack trace."""
from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: "The request could not be understood. If you were sending a form, reload the page and try again.",
    401: "You need to log in.",
    403: "Your role in this panel does not allow this.",
    404: "There is nothing here, or you may not see it.",
    405: "That action is not allowed here.",
    413: "The upload is larger than allowed. Send fewer or smaller files at once.",
    415: "That type of file is not accepted here.",
    429: "Too many attempts. Wait a few minutes and try again.",
    500: "Something went wrong on our side. Nothing you sent was half-saved; please try again.",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        message = MESSAGES.get(code, exc.description)
        if code == 400 and exc.description and "CSRF" in exc.description:
            message = "The form expired or was sent from elsewhere (CSRF check failed). Reload the page and try again."
        if _wants_json():
            return jsonify(error=exc.name, message=message), code
        return render_template("errors/error.html", code=code, name=exc.name, message=message), code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        if app.config.get("PROPAGATE_UNEXPECTED"):
            raise exc
        if _wants_json():
            return jsonify(error="Internal Server Error", message=MESSAGES[500]), 500
        return render_template("errors/error.html", code=500, name="Internal Server Error", message=MESSAGES[500]), 500
