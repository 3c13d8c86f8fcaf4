"""Which `voicetune train` flags each backend reads: a flag a backend would ignore is an error that
lists what that backend takes, never silently dropped. The engine flags (--epochs, --lr, ...)
apply to every backend."""

from __future__ import annotations

from collections.abc import Mapping

from voicetune.errors import VoicetuneError

BACKEND_FLAGS: dict[str, tuple[str, ...]] = {
    "vits": ("--freeze", "--train", "--bootstrap-steps", "--select-by", "--speaker"),
    "mms": ("--freeze", "--train", "--select-by", "--speaker", "--speaker-column", "--filter-speaker",
            "--override-speaker-embeddings", "--skip-unknown-chars"),
    "xtts": ("--preset",),
}
COMMON = ("--dataset", "--base", "--config", "--backend")
# fixed when the run starts (its run file holds them): a resume cannot change them
START_ONLY = (*COMMON, "--freeze", "--train", "--bootstrap-steps", "--speaker", "--speaker-column", "--filter-speaker",
              "--override-speaker-embeddings", "--skip-unknown-chars", "--preset")


def check_flags(backend: str, given: Mapping[str, object], resume: bool = False) -> None:
    """``given``: flag -> value for the flags the user set (None/False = not set)."""
    used = [f for f, v in given.items() if v is not None and v is not False and v != []]
    if resume:
        fixed = [f for f in used if f in START_ONLY]
        if fixed:
            raise VoicetuneError(f"{', '.join(fixed)}: fixed when the run started (see its run file); --resume "
                                 "takes only the engine flags (--max-steps, --max-minutes, --lr, ...) and --select-by; "
                                 "start a new run to change them")
    supported = BACKEND_FLAGS[backend]
    ignored = [f for f in used if f not in supported and f not in COMMON]
    if ignored:
        raise VoicetuneError(f"{', '.join(ignored)}: not used by the {backend} backend, which takes "
                             f"{', '.join(supported)} besides the engine flags; drop "
                             f"{'them' if len(ignored) > 1 else 'it'}")
