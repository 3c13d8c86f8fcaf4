"""Text -> XTTS token ids, for coqui's 17 languages and for new ones.

coqui's ``VoiceBpeTokenizer.encode`` raises for a language outside its built-in list; a new
language (seed 003) gets voicetune's cleaning instead: Unicode NFC, lower case, numbers spelled
out with num2words when it knows the language, quotes dropped, whitespace collapsed. The wire
format is the same as coqui's: ``[xx]`` + text with spaces as ``[SPACE]``.
"""

from __future__ import annotations

import re
import unicodedata

BUILTIN = {"en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh", "ja", "hu", "ko", "hi"}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def base_language(lang: str) -> str:
    lang = lang.lower().split("-")[0].split("_")[0]
    return "zh" if lang == "zh" else lang


def clean_new_language(text: str, lang: str) -> str:
    text = unicodedata.normalize("NFC", text).replace('"', "").replace("“", "").replace("”", "")
    text = text.lower()

    def spell(m: re.Match) -> str:
        try:
            from num2words import num2words

            return num2words(m.group(0).replace(",", "."), lang=lang)
        except (NotImplementedError, ImportError, ValueError, OverflowError):
            return m.group(0)

    text = _NUMBER.sub(spell, text)
    return " ".join(text.split())


def clean(text: str, lang: str) -> str:
    """The text XTTS's tokenizer sees (coqui's cleaners for built-in languages)."""
    lang = base_language(lang)
    if lang in BUILTIN:
        from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

        return VoiceBpeTokenizer().preprocess_text(text, lang)
    return clean_new_language(text, lang)


def lang_token(lang: str) -> str:
    lang = base_language(lang)
    return "[zh-cn]" if lang == "zh" else f"[{lang}]"


def encode(tokenizer, text: str, lang: str) -> list[int]:
    """Token ids of ``text`` (a coqui VoiceBpeTokenizer; new languages through our cleaning)."""
    lang = base_language(lang)
    if lang in BUILTIN:
        return tokenizer.encode(text, lang)
    wire = f"{lang_token(lang)}{clean_new_language(text, lang)}".replace(" ", "[SPACE]")
    return tokenizer.tokenizer.encode(wire).ids


def patch_tokenizer(tokenizer) -> None:
    """Let coqui's own inference (Xtts.inference) speak languages outside its list."""
    original = tokenizer.preprocess_text

    def preprocess_text(txt: str, lang: str) -> str:
        return original(txt, lang) if base_language(lang) in BUILTIN else clean_new_language(txt, lang)

    tokenizer.preprocess_text = preprocess_text
    tokenizer.char_limits.setdefault("xx", 250)
