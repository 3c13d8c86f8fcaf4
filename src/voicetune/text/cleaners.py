"""Text cleaning before phonemization: numbers, symbols and punctuation into speakable text.

espeak-ng reads digits itself, but inconsistently across languages and not for forms such as
"$5.50", "3rd", "50%" or "1990s"; transcripts and prompts are normalized here so that training
and synthesis see the same words. Numbers go through num2words in the voice's language.
"""

from __future__ import annotations

import re
import unicodedata

_PUNCT_MAP = {
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
    "–": " - ", "—": " - ", "―": " - ", "…": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}  # fmt: skip
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence")}
_SYMBOLS_EN = {"%": " percent", "&": " and ", "+": " plus ", "@": " at ", "°": " degrees"}


def _lang(language: str) -> str:
    lang = language.lower().replace("_", "-").split("-")[0]
    return lang or "en"


def _words(n: str | int | float, lang: str, to: str = "cardinal") -> str:
    from num2words import num2words

    try:
        return num2words(n, lang=lang, to=to)
    except (NotImplementedError, OverflowError, ValueError, TypeError):
        try:
            return num2words(n, lang="en", to=to)
        except Exception:
            return str(n)


def _currency(m: re.Match, lang: str) -> str:
    unit, units, sub, subs = _CURRENCY[m.group(1)]
    whole = int(m.group(2).replace(",", ""))
    cents = int((m.group(3) or "0").ljust(2, "0")[:2])
    out = f"{_words(whole, lang)} {unit if whole == 1 else units}"
    if cents:
        out += f" {_words(cents, lang)} {sub if cents == 1 else subs}"
    return out


def normalize_numbers(text: str, language: str = "en") -> str:
    lang = _lang(language)
    if lang == "en":
        text = re.sub(r"([$€£])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b", lambda m: _currency(m, lang), text)
        text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: _words(int(m.group(1)), lang, "ordinal"), text)
        text = re.sub(r"\b(1[1-9]\d0)s\b", lambda m: _words(int(m.group(1)), lang, "year").rstrip("y") + (
            "ies" if _words(int(m.group(1)), lang, "year").endswith("y") else "s"), text)
        text = re.sub(r"\b(1[1-9]\d\d|20\d\d)\b(?![.,]\d)", lambda m: _words(int(m.group(1)), lang, "year"), text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"\b\d+\.\d+\b", lambda m: _words(float(m.group(0)), lang), text)
    text = re.sub(r"\b\d+\b", lambda m: _words(int(m.group(0)), lang), text)
    return text


def normalize_punctuation(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for a, b in _PUNCT_MAP.items():
        text = text.replace(a, b)
    text = re.sub(r"([!?.,;:])\1+", r"\1", text.replace("...", "\u2026")).replace("\u2026", "...")
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:!?])(?=[^\s\d,.;:!?\"')\]])", r"\1 ", text)  # "a,b" -> "a, b"; "1,000" stays
    return re.sub(r"\s+", " ", text).strip()


def clean_text(text: str, language: str = "en") -> str:
    """Speakable text: unified punctuation, symbols and numbers as words, single spaces."""
    text = normalize_punctuation(text)
    if _lang(language) == "en":
        for sym, word in _SYMBOLS_EN.items():
            text = text.replace(sym, word)
    text = normalize_numbers(text, language)
    return re.sub(r"\s+", " ", text).strip()
