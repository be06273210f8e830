"""DecisionFlow's HTTP face: pages for every role, the public portal and the JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, load_settings
from decisionflow.bootstrap import Parts, build
from web import i18n
from web.extensions import babel, csrf, login_manager


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; `test_config` may carry Settings and prebuilt engine Parts."""
    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("DECISIONFLOW_SETTINGS", None) or load_settings()
    parts: Parts = test_config.pop("DECISIONFLOW_PARTS", None) or build(settings)
    app = Flask(__name__)
    production = settings.profile == "production"
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Room for the largest attachment plus the form around it; larger bodies get a 413.
        MAX_CONTENT_LENGTH=settings.max_attachment_bytes + 256 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        # Over HTTPS the cookie gets the __Host- prefix: only this host, only secure, path /.
        SESSION_COOKIE_NAME="__Host-session" if production else "session",
        # An idle timeout: the signed cookie carries its time, renewed at most once a minute
        # (web.auth.renew_session), not re-signed on every request.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
    )
    app.config.update(test_config)
    app.extensions["decisionflow"] = parts

    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app, settings.instance_path)  # compiles catalogs before Babel reads them
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.install_template_gettext(app)

    from web import (
        admin,
        api,
        auth,
        decisions,
        errors,
        followups,
        inbox,
        portal,
        security,
        security_log,
        statistics,
        supervision,
        templating,
        work,
    )

    for module in (inbox, followups):
        app.register_blueprint(module.bp)
    for module in (auth, work, decisions, supervision, statistics, portal, admin, api):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)  # token-authenticated, no cookies: CSRF cannot reach it
    errors.init_app(app)
    templating.init_app(app)
    security.init_app(app)
    security_log.init_app(app)
    if settings.proxy_hops:
        # Behind a load balancer: trust exactly that many hops of X-Forwarded-For/-Proto/-Host,
        # so the audit log names the client, and the request is known as HTTPS on the public
        # host name (CSRF's strict Referer check over HTTPS compares against that host).
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    return app
