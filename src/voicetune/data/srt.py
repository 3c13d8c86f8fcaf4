"""Subtitle import (.srt / .vtt): timed text used instead of ASR.

Nothing in a subtitle file vanishes: a cue whose timing line cannot be read, that ends before it
starts, starts after the audio ends or overlaps its neighbour so far that the pieces cannot be
cut apart is returned as a :class:`CueProblem` with the reason, for the dataset's quarantine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.errors import VoicetuneError

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_ARROW = re.compile(rf"^\s*({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")
_VTT_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")
SUBTITLE_EXTENSIONS = (".srt", ".vtt")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    number: int = 0  # position in the file, from 1


@dataclass(frozen=True)
class CueProblem:
    number: int
    reason: str
    text: str = ""
    start: float | None = None  # set when the cue's audio can be kept for review
    end: float | None = None


@dataclass
class Subtitles:
    path: Path
    cues: list[Cue] = field(default_factory=list)
    problems: list[CueProblem] = field(default_factory=list)


def _seconds(m: tuple[str, ...]) -> float | None:
    h, mnt, s, frac = m
    if int(mnt) >= 60 and h is not None or int(s) >= 60:
        return None
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def _decode(path: Path, encoding: str | None) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VoicetuneError(f"{path}: subtitle file not found; check the --srt path") from None
    except OSError as exc:
        raise VoicetuneError(f"{path}: cannot read the subtitle file ({exc.strerror})") from None
    if encoding:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise VoicetuneError(f"{path}: cannot decode as {encoding} ({exc}); pass the file's real --srt-encoding") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VoicetuneError(
            f"{path}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8 "
            "or pass --srt-encoding (e.g. cp1252, latin-1)"
        ) from None


def _clean(lines: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(_TAGS.sub("", ln).strip() for ln in lines)).strip()


def read_subtitles(path: str | Path, encoding: str | None = None) -> Subtitles:
    """Parse an .srt or .vtt file into cues and the problems of the cues it cannot use.
    Undecodable text, or no cue at all, is an error naming the file and the fix."""
    path = Path(path)
    text = _decode(path, encoding)
    subs = Subtitles(path)
    number = 0
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        if not lines or lines[0].strip().split(" ")[0] in _VTT_BLOCKS:
            continue
        number += 1
        timing = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if timing is None:
            body = _clean(lines[1:] if lines[0].strip().isdigit() else lines)
            if body:
                subs.problems.append(CueProblem(number, "text without a timing line (a blank line inside a cue?)", body))
            continue
        body = _clean(lines[timing + 1 :])
        m = _ARROW.search(lines[timing])
        start = _seconds(m.groups()[1:5]) if m else None
        end = _seconds(m.groups()[6:10]) if m else None
        if start is None or end is None:
            subs.problems.append(CueProblem(number, f"garbled timing line `{lines[timing].strip()}`; fix it as "
                                            "`00:00:01,000 --> 00:00:03,500`", body))
        elif end <= start:
            subs.problems.append(CueProblem(number, f"ends before it starts (`{lines[timing].strip()}`); fix its timing",
                                            body))
        elif body:
            subs.cues.append(Cue(start, end, body, number))
    if not subs.cues:
        raise VoicetuneError(f"{path}: no usable subtitle cues (expected `00:00:01,000 --> 00:00:03,500` lines)")
    subs.cues.sort(key=lambda c: c.start)
    return subs


def place_cues(subs: Subtitles, duration: float, longest: float) -> tuple[list[Cue], list[CueProblem]]:
    """The cues that fit the audio (``duration`` s), with overlapping ones merged into one cue, and
    the problems: cues after the end, cues running past it, overlaps longer than ``longest`` s."""
    problems: list[CueProblem] = []
    inside: list[Cue] = []
    for c in subs.cues:
        if c.start >= duration:
            problems.append(CueProblem(c.number, f"starts at {c.start:.2f} s, after the audio ends ({duration:.2f} s); "
                                       "check that the subtitle belongs to this recording", c.text))
        elif c.end > duration + 0.1:
            problems.append(CueProblem(c.number, f"runs past the end of the audio ({c.end:.2f} s > {duration:.2f} s): "
                                       "its last words are missing", c.text, c.start, duration))
        else:
            inside.append(c)
    groups: list[list[Cue]] = []
    for c in inside:
        if groups and c.start < max(g.end for g in groups[-1]):
            groups[-1].append(c)
        else:
            groups.append([c])
    placed: list[Cue] = []
    for g in groups:
        if len(g) == 1:
            placed.append(g[0])
            continue
        start, end = g[0].start, max(c.end for c in g)
        numbers = ", ".join(str(c.number) for c in g)
        text = " ".join(c.text for c in g)
        if end - start > longest:
            problems += [CueProblem(c.number, f"cues {numbers} overlap and together last {end - start:.1f} s, more "
                                    f"than one clip may ({longest:.1f} s); fix their timings", c.text, c.start, c.end)
                         for c in g]
        else:  # overlapping cues share audio: one clip holds all their words
            placed.append(Cue(start, end, text, g[0].number))
    return placed, problems


def find_subtitle(audio: Path) -> Path | None:
    for ext in SUBTITLE_EXTENSIONS:
        cand = audio.with_suffix(ext)
        if cand.exists():
            return cand
    return None


def match_subtitles(audio_files: list[Path], subtitles: list[str | Path]) -> dict[Path, Path]:
    """``--srt`` files -> the audio file each belongs to (same stem; with one audio file, any name).
    A subtitle that matches no audio file is an error, never ignored."""
    out: dict[Path, Path] = {}
    for sub in map(Path, subtitles):
        if not sub.is_file():
            raise VoicetuneError(f"--srt {sub}: subtitle file not found; check the path")
        if sub.suffix.lower() not in SUBTITLE_EXTENSIONS:
            raise VoicetuneError(f"--srt {sub}: not a .srt or .vtt file")
        same = [a for a in audio_files if a.stem == sub.stem]
        if not same and len(audio_files) == 1:
            same = audio_files
        if not same:
            names = ", ".join(a.name for a in audio_files[:5]) + (" ..." if len(audio_files) > 5 else "")
            raise VoicetuneError(f"--srt {sub}: no input audio file is named {sub.stem}.* (inputs: {names}); "
                                 "name the subtitle like its audio file")
        if len(same) > 1:
            raise VoicetuneError(f"--srt {sub}: several inputs are named {sub.stem}.* "
                                 f"({', '.join(str(a) for a in same)}); give the audio files one by one")
        if same[0] in out:
            raise VoicetuneError(f"--srt {sub}: {same[0]} already has the subtitle {out[same[0]]}")
        out[same[0]] = sub
    return out
