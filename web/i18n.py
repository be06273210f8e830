"""Languages: Simplified Chinese by default, English on request; dates in Asia/Shanghai."""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import format_datetime, get_locale, get_timezone, get_translations
from markupsafe import Markup

from decisionflow.definitions import Text

LANGUAGES = {"zh": "中文", "en": "English"}
SOURCE_CATALOGS = Path(__file__).parent / "translations"

#: the page's language, catalog and time zone, settled once a request: a decision page asks
#: for them hundreds of times, and each ask through Flask-Babel walks its context anew (~10 µs)
_PAGE_LANGUAGE: ContextVar[tuple[bool, Any, tzinfo] | None] = ContextVar(
    "page_language", default=None
)


def select_locale() -> str:
    """The language the user chose (kept in the session), else Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return "zh"


def compile_catalogs(app: Flask, target: Path) -> None:
    """Compile the .po catalogs into the instance folder (compiled files are never committed)."""
    for po_path in SOURCE_CATALOGS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE_CATALOGS).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source)
        # Each gunicorn worker compiles at start, at the same moment: a temporary file of each
        # process's own, so that no worker moves away the file another is about to rename.
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            write_mo(out, catalog)
        tmp.replace(mo_path)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)


def _page_language() -> tuple[bool, Any, tzinfo]:
    """Whether the page is in English, the catalog it is translated with, its time zone."""
    settled = _PAGE_LANGUAGE.get()
    if settled is None:  # outside a request's dispatch: ask Flask-Babel each time
        return str(get_locale()) == "en", get_translations(), get_timezone()
    return settled


def _settle_language() -> None:
    # The zone by its name in the standard library's zoneinfo: the same rules as Babel's pytz
    # zone, and converting a time with it costs a third as much (a timeline shows dozens).
    zone = ZoneInfo(str(get_timezone()))
    _PAGE_LANGUAGE.set((str(get_locale()) == "en", get_translations(), zone))


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's gettext, through the page's settled catalog (for labels a page shows by
    the dozen)."""
    translated: str = _page_language()[1].ugettext(string)
    return translated % variables if variables else translated


def _forget_language(_: BaseException | None = None) -> None:
    _PAGE_LANGUAGE.set(None)


def install_template_gettext(app: Flask) -> None:
    """Give templates gettext through the settled catalog (call after Babel's init_app)."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _page_language()[1].ugettext(s),
        ngettext=lambda s, p, n: _page_language()[1].ungettext(s, p, n),
        newstyle=True,
    )
    # `_()` is called some fifty times a page: called directly it gives what the extension's
    # newstyle alias gives (the translation as Markup, its variables escaped into it) without
    # the alias's two calls through the template's context (~5 µs -> ~2 µs a label).
    app.jinja_env.globals["_"] = template_gettext


def template_gettext(string: str, **variables: Any) -> Markup:
    """A template's `_()`: the translation, safe as HTML, with its variables escaped in."""
    translated = Markup(_page_language()[1].ugettext(string))
    # Formatted even without variables, as Jinja's own newstyle gettext does ("%%" reads "%"),
    # but only when there is something to format: most labels have no "%" at all.
    return translated % variables if variables or "%" in translated else translated


def is_english() -> bool:
    """Whether the page is being shown in English."""
    return _page_language()[0]


def pick(text: Text | tuple[str, str] | dict[str, str] | None) -> str:
    """The Chinese or English half of a bilingual text, by the page's language."""
    if text is None:
        return ""
    settled = _PAGE_LANGUAGE.get()  # (as is_english(), without two calls: pages pick hundreds)
    english = settled[0] if settled is not None else is_english()
    if isinstance(text, Text):
        return text.en if english else text.zh
    if isinstance(text, dict):
        return text.get("en" if english else "zh", "")
    return text[1] if english else text[0]


#: the usual form of a moment: digits only, the same in every language
_MINUTES = "yyyy-MM-dd HH:mm"


def when(moment: datetime | None, fmt: str = _MINUTES) -> str:
    """A moment shown in the government's time zone."""
    if moment is None:
        return ""
    if fmt == _MINUTES:
        # Babel's formatter costs ~50 µs a call and a timeline shows dozens; this form needs no
        # locale data, so strftime gives the very same text.
        return moment.astimezone(_page_language()[2]).strftime("%Y-%m-%d %H:%M")
    return format_datetime(moment, fmt)


def here() -> str:
    """Where a language switch should lead back to: this page, if it can be opened again."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    # A page answering a form (a refusal shown again) has no address of its own to return to:
    # its form's address takes POST only. Back to the page the form was sent from, if ours.
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


def init_app(app: Flask, instance: Path) -> None:
    """Wire languages and template helpers into the app."""
    compile_catalogs(app, instance / "translations")
    app.before_request(_settle_language)
    app.teardown_request(_forget_language)
    # Also as filters ({{ text|pick }}): Jinja calls a filter directly, while a call of a
    # function goes through its context (~1 µs more), and a page shows hundreds of labels.
    app.add_template_filter(pick)
    app.add_template_filter(when)

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "pick": pick,
            "when": when,
            "languages": LANGUAGES,
            "current_lang": select_locale,
            "request_path": here,
        }
