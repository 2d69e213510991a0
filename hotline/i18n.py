"""The console speaks Chinese and English: `t("排队", "Queue")` picks the operator's language.

Inline pairs instead of message catalogues: every string is written once, in both languages,
where it is used, so neither translation can go missing.
"""

from __future__ import annotations

from flask import Flask, request, session

LANGUAGES = ("zh", "en")


def current_language() -> str:
    """The console language: the operator's choice (the 中文/English switch, kept in the
    session), else the browser's Accept-Language, else the account's language, else Chinese.

    The account's language (set by an administrator, "zh" unless changed) is what staff texts
    use; it only decides the console when the browser names neither language.
    """
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES) if request else None
    if best:
        return best
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        lang = getattr(current_user, "console_language", None)
        if lang in LANGUAGES:
            return lang
    return "zh"


def t(zh: str, en: str) -> str:
    """Pick the Chinese or English text for the current console language."""
    return en if current_language() == "en" else zh


def init_app(app: Flask) -> None:
    """Make `t` and `current_language` available in every template."""
    app.jinja_env.globals.update(t=t, current_language=current_language)
