"""Sentence splitting for chunking long text (synthesis) and for transcripts.

Splits after . ! ? (and their CJK / ellipsis forms) followed by whitespace, but not after common
abbreviations (Mr., Dr., e.g.) or single initials (J. R. R. Tolkien), nor inside numbers (3.5).
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "no", "fig",
    "approx", "dept", "est", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "gen", "gov", "sgt", "capt", "col", "lt", "rev",
}  # fmt: skip
_BOUNDARY = re.compile(r"([.!?…。！？]+[\"'”’)\]]*)(\s+)")


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text.replace("\r", " ")).strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1)
        before = text[start:end]
        last_word = re.split(r"\s", before.rstrip(".!?…\"'”’)]"))[-1].lower() if before else ""
        if m.group(1).startswith(".") and len(m.group(1)) == 1:
            if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
                continue
            # "p.m." / "U.S." end a sentence only when a capitalized word follows
            nxt = text[m.end() : m.end() + 1]
            if "." in last_word and not nxt.isupper():
                continue
        sentences.append(text[start:end].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def chunk_sentences(sentences: list[str], max_chars: int = 400) -> list[str]:
    """Group sentences into chunks of at most ``max_chars`` (a longer sentence stays whole)."""
    chunks: list[str] = []
    current = ""
    for s in sentences:
        if current and len(current) + 1 + len(s) > max_chars:
            chunks.append(current)
            current = s
        else:
            current = f"{current} {s}".strip()
    if current:
        chunks.append(current)
    return chunks


def wrap_long(text: str, max_chars: int = 300) -> list[str]:
    """``[text]`` unless a sentence in it is longer than ``max_chars``; then pieces of at most
    ``max_chars``, cut at the last comma/semicolon/colon, else space, before the limit (a run-on
    sentence of thousands of characters would otherwise go to the model in one piece)."""
    sentences = split_sentences(text)
    if all(len(s) <= max_chars for s in sentences):
        return [text]
    pieces: list[str] = []
    for s in sentences:
        while len(s) > max_chars:
            window = s[: max_chars + 1]
            cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "))
            cut = cut + 1 if cut > max_chars // 3 else window.rfind(" ")
            if cut <= 0:
                cut = max_chars
            pieces.append(s[:cut].strip())
            s = s[cut:].strip()
        if s:
            pieces.append(s)
    return pieces

