"""Data tab: uploads -> `prepare` (the function the CLI calls) -> clip review by ear: transcript
edits, removing a clip into the quarantine, hearing the quarantine and restoring a clip from it.

An edit is written the way a hand edit of the CSV is kept: into the dataset's metadata as one
unit (store.rewrite_dataset, through voicetune.data.manage), so the CSV, dataset.json and the
report agree and a later prepare run keeps the corrected text, the removal or the restore. No
audio is deleted: a removed clip's wav moves to quarantine/.
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


def folder_inputs(ws: Workspace, folder: str) -> tuple[list[Path], list[Path]]:
    """(recordings, subtitles) of a folder inside the workspace, read in place (not copied; prepare
    never modifies its inputs). Files are taken at the top level only, in name order; each one is
    checked like any typed path, so a symlink inside it that leads out is refused."""
    root = ws.path(folder)
    if not root.is_dir():
        raise VoicetuneError(f"{folder}: not a folder in the workspace")
    audio, subs = [], []
    for f in sorted(root.iterdir()):
        suffix = f.suffix.lower()
        if f.is_file() and suffix in (*AUDIO_EXTENSIONS, *SUBTITLE_EXTENSIONS):
            (subs if suffix in SUBTITLE_EXTENSIONS else audio).append(ws.path(f))
    if not audio:
        raise VoicetuneError(f"{folder}: no recordings in it ({', '.join(sorted(AUDIO_EXTENSIONS))})")
    return audio, subs


class PrepareProgress:
    """prepare()'s progress interface (rich's add_task/update) drawn as Gradio's progress bar:
    one bar, labelled with the step running now (VAD or ASR of a recording)."""

    def __init__(self, report: Callable[..., object]):
        self.report = report
        self.tasks: dict[int, tuple[str, float]] = {}

    def add_task(self, label: str, total: float = 1.0) -> int:
        self.tasks[len(self.tasks)] = (label, float(total) or 1.0)
        self.report(0.0, desc=label)
        return len(self.tasks) - 1

    def update(self, task: int, completed: float = 0.0) -> None:
        label, total = self.tasks[task]
        self.report(min(1.0, completed / total), desc=label)


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


SORTS = {  # the Data tab's sort control: label -> key of a clip
    "lowest ASR confidence first": lambda c: (c.asr_confidence if c.asr_confidence is not None else 2.0, c.id),
    "clip id": lambda c: (c.id,),
    "longest first": lambda c: (-c.duration, c.id),
    "shortest first": lambda c: (c.duration, c.id),
}
QUARANTINE_COLUMNS = ["clip", "reason", "text"]


def clip_rows(ws: Workspace, sort: str = "lowest ASR confidence first") -> list[list]:
    """The clip table, by default lowest ASR confidence first (the transcripts worth a listen;
    clips without a score, e.g. from subtitles, come last)."""
    from voicetune.data.dataset import load_dataset

    if not (ws.dataset / "dataset.json").exists():
        return []
    ds = load_dataset(ws.dataset)
    clips = sorted(ds.clips, key=SORTS.get(sort, SORTS["lowest ASR confidence first"]))
    return [[c.id, c.split, round(c.duration, 2),
             None if c.asr_confidence is None else round(c.asr_confidence, 3), c.text] for c in clips]


def quarantine_rows(ws: Workspace) -> list[list]:
    """The quarantined clips that kept their audio (the ones that can be heard and restored)."""
    from voicetune.data.dataset import load_dataset

    if not (ws.dataset / "dataset.json").exists():
        return []
    ds = load_dataset(ws.dataset)
    return [[q.clip, q.reason, q.text or ""] for q in ds.quarantine if q.clip and q.audio(ws.dataset)]


def quarantine_audio(ws: Workspace, clip_id: str) -> tuple[str, str]:
    """(wav path, transcript) of one quarantined clip."""
    from voicetune.data.dataset import load_dataset

    _check_id(clip_id)
    ds = load_dataset(ws.dataset)
    for q in ds.quarantine:
        rel = q.audio(ws.dataset) if q.clip == clip_id else None
        if rel is not None:
            return str(ws.path(Path("dataset") / rel)), q.text or ""
    raise VoicetuneError(f"clip {clip_id}: not in the quarantine (it may have been restored)")


def remove_clip(ws: Workspace, clip_id: str) -> str:
    """Move a clip into the quarantine (voicetune.data.manage.remove_clip): its wav is kept there,
    restorable, and a later prepare leaves it out as it does a deleted CSV row."""
    from voicetune.data.dataset import REMOVED_IN_UI
    from voicetune.data.manage import remove_clip as remove

    _check_id(clip_id)
    remove(ws.dataset, clip_id, REMOVED_IN_UI)
    return f"moved {clip_id} to the quarantine (restore it below)"


def restore_clip(ws: Workspace, clip_id: str, text: str) -> str:
    """Bring a quarantined clip back into the train split with ``text`` as its transcript."""
    from voicetune.data.manage import restore_clip as restore

    _check_id(clip_id)
    clip = restore(ws.dataset, clip_id, text)
    return f"restored {clip_id} to the {clip.split} split"


def _check_id(clip_id: str) -> None:
    from voicetune.data.dataset import check_clip_id

    try:
        check_clip_id(clip_id or "")
    except ValueError as exc:
        raise VoicetuneError(str(exc)) from None


def clip_audio(ws: Workspace, clip_id: str) -> tuple[str, str]:
    """(wav path, transcript) of one clip."""
    from voicetune.data.dataset import load_dataset

    _check_id(clip_id)
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
        raise VoicetuneError("the transcript is empty; to drop the clip, use Remove (it goes to the quarantine)")
    ds = load_dataset(ws.dataset)
    clip = next((c for c in ds.clips if c.id == clip_id), None)
    if clip is None:
        raise VoicetuneError(f"clip {clip_id}: not in the dataset")
    clip.text = text
    rewrite_dataset(ds, ws.dataset)
    return f"saved the transcript of {clip_id}"
