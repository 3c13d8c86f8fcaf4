"""Subtitle import (.srt / .vtt): timed text used instead of ASR."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_ARROW = re.compile(rf"({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _seconds(m: tuple[str, ...]) -> float:
    h, mnt, s, frac = m
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def read_subtitles(path: str | Path, encoding: str | None = None) -> list[Cue]:
    """Parse an .srt or .vtt file. Undecodable text is an error naming the file and the fix."""
    path = Path(path)
    raw = path.read_bytes()
    if encoding:
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise VoicetuneError(f"{path}: cannot decode as {encoding} ({exc})") from None
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise VoicetuneError(
                f"{path}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8 "
                "or pass --srt-encoding (e.g. cp1252, latin-1)"
            ) from None
    cues: list[Cue] = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n")):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        for i, line in enumerate(lines):
            m = _ARROW.search(line)
            if m:
                groups = m.groups()
                start, end = _seconds(groups[1:5]), _seconds(groups[6:10])
                body = " ".join(_TAGS.sub("", ln).strip() for ln in lines[i + 1 :])
                body = re.sub(r"\s+", " ", body).strip()
                if end <= start:
                    raise VoicetuneError(f"{path}: cue at {line.strip()} ends before it starts; fix its timing")
                if body:
                    cues.append(Cue(start, end, body))
                break
    if not cues:
        raise VoicetuneError(f"{path}: no subtitle cues found (expected `00:00:01,000 --> 00:00:03,500` lines)")
    return sorted(cues, key=lambda c: c.start)


def find_subtitle(audio: Path) -> Path | None:
    for ext in (".srt", ".vtt"):
        cand = audio.with_suffix(ext)
        if cand.exists():
            return cand
    return None
