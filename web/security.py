"""Security headers on every response: no outside source may be loaded, ever."""

from __future__ import annotations

from flask import Flask, Response

# Government intranets are offline, and pages must load nothing from outside anyway.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
#: no page needs a camera, a microphone, the user's place or payment, nor may any frame ask
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), interest-cohort=()"
)
#: a year, subdomains included (ASVS 14.4.5); sent only in production, over HTTPS
HSTS = "max-age=31536000; includeSubDomains"

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Permissions-Policy": PERMISSIONS_POLICY,
    # No other site's window may hold a handle on ours, nor embed what we serve.
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Permitted-Cross-Domain-Policies": "none",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    production = app.config.get("SESSION_COOKIE_SECURE", False)

    sent = dict(HEADERS)
    if production:
        # Production is served over HTTPS (its cookies are Secure); a browser ignores the
        # header on plain HTTP anyway (RFC 6797 §8.1).
        sent["Strict-Transport-Security"] = HSTS
    lowered = {name.lower(): (name, value) for name, value in sent.items()}

    @app.after_request
    def headers(response: Response) -> Response:
        # A view's own header wins (a download's Cache-Control, say). One pass over what the
        # response has: asking for each header by name raises and catches a KeyError for
        # every one missing, on every request.
        missing = dict(lowered)
        for name, _value in response.headers:
            missing.pop(name.lower(), None)
        response.headers.extend(missing.values())
        return response
