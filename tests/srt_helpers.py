"""Subtitles for a synthesized recording's timeline, as the tests that skip ASR write them."""

from __future__ import annotations


def srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path, timeline, encoding="utf-8"):
    blocks = [f"{i}\n{srt_time(s.start)} --> {srt_time(s.end)}\n{s.text}\n" for i, s in enumerate(timeline, 1)]
    path.write_bytes("\n".join(blocks).encode(encoding))
