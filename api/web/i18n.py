"""Messages in the clerks' language: gettext catalogues (``locale/<lang>/LC_MESSAGES/
messages.po``) read through Babel, Vietnamese by default, English per user.

Source strings are English; the Vietnamese catalogue translates them. Catalogues are compiled
in memory when the app starts, so only the ``.po`` files are kept. To add strings:
``pybabel extract -F api/web/babel.cfg -o api/web/locale/messages.pot api/web`` then
``pybabel update -i api/web/locale/messages.pot -d api/web/locale`` and translate.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

__all__ = ["DEFAULT_LANG", "LANGS", "translations", "gettext", "ngettext", "current_lang",
           "use_lang"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANG = "vi"
LANGS = {"vi": "Tiếng Việt", "en": "English"}

current_lang: ContextVar[str] = ContextVar("current_lang", default=DEFAULT_LANG)


@cache
def translations(lang: str) -> NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def use_lang(lang: str | None) -> str:
    chosen = lang if lang in LANGS else DEFAULT_LANG
    current_lang.set(chosen)
    return chosen


def gettext(message: str) -> str:
    return translations(current_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_lang.get()).ngettext(singular, plural, n)
