"""Data tab: uploads -> `prepare` (the function the CLI calls) -> clip review and transcript edits.

An edit is written the way a hand edit of the CSV is kept: into the dataset's metadata as one
unit (store.rewrite_dataset), so the CSV, dataset.json and the report agree and a later prepare
run keeps the corrected text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from voicetune.audio import AUDIO_EXTENSIONS
from voicetune.errors import VoicetuneError
from voicetune.ui.workspace import Workspace

SUBTITLE_EXTENSIONS = (".srt", ".vtt")
CLIP_COLUMNS = ["clip", "split", "seconds", "asr_confidence", "text"]


def split_uploads(ws: Workspace, files: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """Copy uploads into the workspace; (recordings, subtitles). Other file types are refused."""
    audio, subs = [], []
    for f in files:
        suffix = Path(f).suffix.lower()
        if suffix in SUBTITLE_EXTENSIONS:
            subs.append(ws.copy_in(f))
        elif suffix in AUDIO_EXTENSIONS:
            audio.append(ws.copy_in(f))
        else:
            raise VoicetuneError(f"{Path(f).name}: not a recording ({', '.join(sorted(AUDIO_EXTENSIONS))}) "
                                 "or subtitle file (.srt, .vtt)")
    return audio, subs


def run_prepare(ws: Workspace, audio: list[Path], subs: list[Path], log: Callable[[str], None] = print,
                progress=None) -> str:
    """prepare() into the workspace dataset; returns the summary line + warnings as Markdown."""
    from voicetune.data.build import PrepareOptions, prepare
    from voicetune.data.dataset import load_dataset
    from voicetune.data.report import warnings_for

    if not audio:
        raise VoicetuneError("no recording given: upload at least one audio file")
    result = prepare(audio, ws.dataset, PrepareOptions(srt=[str(s) for s in subs]), progress=progress, log=log)
    ds = load_dataset(ws.dataset)
    s = result.summary(ds)
    lines = [f"**dataset**: {s['clips']} clips, {s['minutes']:.1f} min ({s['train']} train / {s['eval']} eval); "
             f"added {result.added}, quarantined {result.quarantined}"]
    lines += [f"- note: {n}" for n in result.notes]
    lines += [f"- warning: {w}" for w in warnings_for(ds)]
    return "\n".join(lines)


def report_markdown(ws: Workspace) -> str:
    report = ws.dataset / "report.md"
    return report.read_text(encoding="utf-8") if report.is_file() else "_no dataset yet: upload recordings and prepare_"


def clip_rows(ws: Workspace) -> list[list]:
    """The clip table, lowest ASR confidence first (those are the transcripts worth a listen)."""
    from voicetune.data.dataset import load_dataset

    if not (ws.dataset / "dataset.json").exists():
        return []
    ds = load_dataset(ws.dataset)
    clips = sorted(ds.clips, key=lambda c: (c.asr_confidence if c.asr_confidence is not None else 2.0, c.id))
    return [[c.id, c.split, round(c.duration, 2),
             None if c.asr_confidence is None else round(c.asr_confidence, 3), c.text] for c in clips]


def clip_audio(ws: Workspace, clip_id: str) -> tuple[str, str]:
    """(wav path, transcript) of one clip."""
    from voicetune.data.dataset import check_clip_id, load_dataset

    try:
        check_clip_id(clip_id or "")
    except ValueError as exc:
        raise VoicetuneError(str(exc)) from None
    ds = load_dataset(ws.dataset)
    for c in ds.clips:
        if c.id == clip_id:
            return str(ws.path(Path("dataset") / c.audio_file)), c.text
    raise VoicetuneError(f"clip {clip_id}: not in the dataset (it may have been removed)")


def save_transcript(ws: Workspace, clip_id: str, text: str) -> str:
    """Store a corrected transcript through the dataset functions the CLI uses."""
    from voicetune.data.dataset import load_dataset
    from voicetune.data.store import rewrite_dataset

    text = " ".join((text or "").split())
    if not text:
        raise VoicetuneError("the transcript is empty; to drop a clip, delete its row from the metadata CSV")
    ds = load_dataset(ws.dataset)
    clip = next((c for c in ds.clips if c.id == clip_id), None)
    if clip is None:
        raise VoicetuneError(f"clip {clip_id}: not in the dataset")
    clip.text = text
    rewrite_dataset(ds, ws.dataset)
    return f"saved the transcript of {clip_id}"
