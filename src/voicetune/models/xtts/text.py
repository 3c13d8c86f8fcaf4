"""Text -> XTTS token ids, for coqui's 17 languages and for new ones.

coqui's ``VoiceBpeTokenizer.encode`` raises for a language outside its built-in list; a new
language (seed 003) gets voicetune's normaliser instead (voicetune.text.normalize, the one that
cleans dataset transcripts), then lower case and no double quotes, as coqui's cleaners do. The wire
format is the same as coqui's: ``[xx]`` + text with spaces as ``[SPACE]``.
"""

from __future__ import annotations

BUILTIN = {"en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh", "ja", "hu", "ko", "hi"}


def base_language(lang: str) -> str:
    lang = lang.lower().split("-")[0].split("_")[0]
    return "zh" if lang == "zh" else lang


def clean_new_language(text: str, lang: str) -> str:
    from voicetune.text.normalize import normalize_text

    return " ".join(normalize_text(text, lang).replace('"', "").lower().split())


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
