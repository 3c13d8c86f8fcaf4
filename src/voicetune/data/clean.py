"""Transcript cleaning for dataset text: whitespace, quotes, and numbers spoken as words."""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "´": "'", "`": "'", "«": '"', "»": '"'})
_NUMBER = re.compile(r"(?<![\w.])([$€£]?)((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(%|st|nd|rd|th)?(?![\w])")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_CURRENCY = {"$": "dollar", "€": "euro", "£": "pound"}


def clean_text(text: str, language: str | None = "en", spell_numbers: bool = True) -> str:
    """Normalise a transcript the same way for every clip; numbers become words where num2words knows
    the language (``spell_numbers=False``: digits stay digits)."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return numbers_to_words(text, language or "en") if spell_numbers else text


def numbers_to_words(text: str, language: str = "en") -> str:
    try:
        from num2words import num2words
    except ImportError:  # optional: keep digits rather than fail
        return text
    lang = language.split("-")[0].split("_")[0]
    if lang == "en":  # clock times: 10:30 -> ten thirty, 9:05 -> nine oh five
        text = _TIME.sub(lambda m: f"{m.group(1)} {'oh ' if m.group(2)[0] == '0' and m.group(2) != '00' else ''}"
                         f"{'' if m.group(2) == '00' else int(m.group(2))}".strip(), text)

    def spell(m: re.Match) -> str:
        cur, num, suffix = m.group(1), m.group(2).replace(",", ""), m.group(3)
        try:
            if suffix in ("st", "nd", "rd", "th"):
                return num2words(int(num), lang=lang, to="ordinal")
            value = float(num) if "." in num else int(num)
            if cur:
                unit = _CURRENCY[cur]
                words = num2words(value, lang=lang)
                return f"{words} {unit}{'' if value == 1 else 's'}"
            if suffix == "%":
                return f"{num2words(value, lang=lang)} percent" if lang == "en" else num2words(value, lang=lang) + " %"
            if isinstance(value, int) and 1100 <= value <= 2099 and "," not in m.group(2) and lang == "en":
                return num2words(value, lang=lang, to="year")
            return num2words(value, lang=lang)
        except (NotImplementedError, ValueError, OverflowError, KeyError):
            return m.group(0)

    return _NUMBER.sub(spell, text)


def text_key(text: str) -> str:
    """A comparison key: case, punctuation and spacing ignored (for duplicate detection)."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()
