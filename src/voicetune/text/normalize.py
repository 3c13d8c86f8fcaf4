"""The one text normaliser: dataset transcripts (prepare, import-hf), `say --clean` and XTTS's
new languages all go through :func:`normalize_text`, so training and synthesis see the same words.

Punctuation and quotes are unified, whitespace collapsed, and numbers spelled out with num2words
in the text's language. English also gets the forms espeak-ng misreads: currency with cents
("$5.50" -> "five dollars fifty cents"), clock times ("10:30" -> "ten thirty"), ordinals ("3rd"),
decades ("1990s" -> "nineteen nineties"), years ("1999" -> "nineteen ninety-nine"), percentages
and the symbols & + @ °. A language num2words does not know keeps its digits: spelling them in
English would teach the model wrong words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_PUNCT_MAP = {
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'", "´": "'", "`": "'",
    "–": " - ", "—": " - ", "―": " - ", "…": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}  # fmt: skip
_CURRENCY_EN = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
                "£": ("pound", "pounds", "penny", "pence")}
_CURRENCY_CODE = {"$": "USD", "€": "EUR", "£": "GBP"}
_SYMBOLS_EN = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "°": " degrees "}
_INT = r"\d{1,3}(?:,\d{3})+|\d+"  # 1,000,000 or 1000000


def language_code(language: str | None) -> str | None:
    """num2words' code for a language tag: "en-us" -> "en", "pt_BR" -> "pt"."""
    if not language:
        return None
    return language.lower().replace("_", "-").split("-")[0] or None


def _num2words(value: int | float, lang: str, to: str = "cardinal", **kw) -> str | None:
    from num2words import num2words

    try:
        return num2words(value, lang=lang, to=to, **kw)
    except (NotImplementedError, OverflowError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _sub(pattern: str, text: str, fn: Callable[[re.Match], str | None]) -> str:
    """re.sub where ``fn`` returning None keeps the match as it was."""
    return re.sub(pattern, lambda m: fn(m) or m.group(0), text)


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _english_numbers(text: str) -> str:
    def currency(m: re.Match) -> str | None:
        unit, units, sub, subs = _CURRENCY_EN[m.group(1)]
        whole = _int(m.group(2))
        cents = int((m.group(3) or "0").ljust(2, "0")[:2])
        out = f"{_num2words(whole, 'en')} {unit if whole == 1 else units}"
        if cents:
            out += f" {_num2words(cents, 'en')} {sub if cents == 1 else subs}"
        return out

    def clock(m: re.Match) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        h = _num2words(hour, "en")
        if minute == 0:
            return f"{h} o'clock" if not m.group(3) else h
        return f"{h} {'oh ' if minute < 10 else ''}{_num2words(minute, 'en')}"

    def decimal(s: str) -> str | None:
        return _num2words(float(s.replace(",", "")), "en") if "." in s else _num2words(_int(s), "en")

    text = _sub(rf"([$€£])\s?({_INT})(?:\.(\d{{1,2}}))?(?!\d|\.\d)", text, currency)
    text = _sub(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(\s?[ap]\.?m\b\.?)?", text,
                lambda m: clock(m) + (f" {m.group(3).strip()}" if m.group(3) else ""))
    text = _sub(rf"(?<![\w.,])((?:{_INT})(?:\.\d+)?)\s?%", text, lambda m: f"{decimal(m.group(1))} percent")
    text = _sub(rf"(?<![\w.,])({_INT})(st|nd|rd|th)\b", text, lambda m: _num2words(_int(m.group(1)), "en", "ordinal"))
    text = _sub(r"(?<![\w.,])(1[1-9]\d0|20\d0)s\b", text, lambda m: _plural(_num2words(int(m.group(1)), "en", "year")))
    text = _sub(r"(?<![\w.,'])'?([2-9]0)s\b", text, lambda m: _plural(_num2words(int(m.group(1)), "en")))
    text = _sub(r"(?<![\w.,])(1[1-9]\d\d|20\d\d)(?![\w]|[.,]\d)", text, lambda m: _num2words(int(m.group(1)), "en", "year"))
    text = _sub(rf"(?<![\w.,])((?:{_INT})(?:\.\d+)?)(?![\w]|[.,]\d)", text, lambda m: decimal(m.group(1)))
    return text


def _other_numbers(text: str, lang: str) -> str:
    """Numbers in another language: currency through num2words' own currency words, '.'/','/space
    as thousands separators before exactly three digits, ',' or '.' as the decimal mark."""
    def value(s: str) -> int | float:
        s = re.sub(r"(?<=\d)[.,  ](?=\d{3}(?!\d))", "", s)
        return float(s.replace(",", ".")) if re.search(r"[.,]", s) else int(s)

    num = r"\d{1,3}(?:[.,  ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
    text = _sub(rf"([$€£])\s?({num})(?![\d])", text,
                lambda m: _num2words(value(m.group(2)), lang, "currency", currency=_CURRENCY_CODE[m.group(1)]))
    text = _sub(rf"(?<![\w])({num})\s?([€$£])", text,
                lambda m: _num2words(value(m.group(1)), lang, "currency", currency=_CURRENCY_CODE[m.group(2)]))
    return _sub(rf"(?<![\w])({num})(?![\w])", text, lambda m: _num2words(value(m.group(1)), lang))


def normalize_punctuation(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for a, b in _PUNCT_MAP.items():
        text = text.replace(a, b)
    text = re.sub(r"([!?.,;:])\1+", r"\1", text.replace("...", "\u2026")).replace("\u2026", "...")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return re.sub(r"([,;:!?])(?=[^\s\d,.;:!?\"')\]])", r"\1 ", text)  # "a,b" -> "a, b"; "1,000" stays


def normalize_text(text: str, language: str | None = "en", spell_numbers: bool = True) -> str:
    """Speakable, consistent text. ``language`` None: punctuation and spacing only (digits stay);
    ``spell_numbers=False``: no number spelling either way."""
    text = normalize_punctuation(text)
    lang = language_code(language)
    if lang is not None and spell_numbers:
        text = _english_numbers(text) if lang == "en" else _other_numbers(text, lang)
    if lang == "en":
        for sym, word in _SYMBOLS_EN.items():
            text = text.replace(sym, word)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([,.;:!?])", r"\1", text)


def text_key(text: str) -> str:
    """A comparison key: case, punctuation and spacing ignored (for duplicate detection)."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()
