"""Security headers on every response — pages, error pages, files and the API — in every
environment, so development and the tests see what production sends.

The Content-Security-Policy allows scripts, styles and fonts from this origin only: no
inline ``<script>``, ``<style>``, ``style=""`` or ``on…=""`` in any template (a test walks
them), so an injected tag or attribute does nothing. Images may also be ``data:`` and
``blob:`` URLs (previews made in the browser). HSTS is sent in production only: it tells
browsers to use HTTPS for a year, which a development server on http://127.0.0.1 cannot
honour.

Written here rather than with Flask-Talisman: seven fixed headers need no dependency, and
a test reads them all.
"""
from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Production only (HTTPS): a year, subdomains included.
HSTS = "max-age=31536000; includeSubDomains"

#: A file's response may not be run as a page: no sniffing it into HTML, no scripts, no
#: same-origin rights, nothing loaded, even if a browser is led to render it.
FILE_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff",
                         "Content-Security-Policy": "sandbox; default-src 'none'"}


def protect_file_response(response):
    """The per-response headers of a file a user sent (or one made from it): photos and
    their derivatives, reply documents, letters."""
    response.headers.update(FILE_SECURITY_HEADERS)
    return response


def init_app(app) -> None:
    headers = dict(HEADERS)
    if app.config["ENV"] == "production":
        headers["Strict-Transport-Security"] = HSTS

    @app.after_request
    def add_security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
