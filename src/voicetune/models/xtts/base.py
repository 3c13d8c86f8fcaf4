"""An XTTS v2 base: a folder (or a hub id when online) with coqui's release files, checked up front.

Needed for training: config.json, model.pth, vocab.json, dvae.pth, mel_stats.pth;
speakers_xtts.pth is optional (coqui's built-in speakers, copied into exports).
A missing or misnamed file is a one-line error listing what the folder holds and what is needed,
with a rename hint for near misses (``mel_norms.pth`` -> ``mel_stats.pth``).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.hub_ids import is_repo_id

TRAIN_FILES = ("config.json", "model.pth", "vocab.json", "dvae.pth", "mel_stats.pth")
SPEAK_FILES = ("config.json", "model.pth", "vocab.json")
OPTIONAL_FILES = ("speakers_xtts.pth",)
LICENCE = "XTTS v2 weights: Coqui Public Model License 1.0.0 (non-commercial use only)"


@dataclass(frozen=True)
class XttsBase:
    folder: Path
    source: str  # what the user gave (folder or hub id)

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def speakers(self) -> Path | None:
        p = self.folder / "speakers_xtts.pth"
        return p if p.is_file() else None

    def config(self) -> dict:
        return read_config(self.folder / "config.json")


def looks_like_xtts(folder: Path) -> bool:
    """True for a folder that holds XTTS files (used to infer ``--backend xtts`` from ``--base``)."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    if "vocab.json" in names and "model.pth" in names:
        return True
    cfg = folder / "config.json"
    if cfg.is_file():
        try:
            return json.loads(cfg.read_text(encoding="utf-8")).get("model") == "xtts"
        except (OSError, ValueError):
            return False
    return False


def read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VoicetuneError(f"{path}: not a readable XTTS config.json ({exc}); restore it from the base release") from None
    if data.get("model") != "xtts" or "model_args" not in data:
        raise VoicetuneError(f"{path}: not an XTTS config (needs \"model\": \"xtts\" and model_args); "
                             "give the config.json of an XTTS v2 release")
    return data


def check_files(folder: Path, needed: tuple[str, ...] = TRAIN_FILES, what: str = "--base") -> None:
    """Raise one clear line when a file is missing, naming what is there and what is needed."""
    if not folder.exists():
        raise VoicetuneError(f"{what} {folder}: not found; give a folder with {', '.join(needed)} "
                             "(the XTTS v2 release files) or a hub id such as coqui/XTTS-v2 when online")
    if not folder.is_dir():
        raise VoicetuneError(f"{what} {folder}: is a file; give the folder holding {', '.join(needed)}")
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    missing = [n for n in needed if n not in present]
    if not missing:
        return
    hints = []
    for name in missing:
        close = [p for p in difflib.get_close_matches(name, present, n=1, cutoff=0.6) if p not in needed]
        if name == "mel_stats.pth" and "mel_norms.pth" in present:
            close = ["mel_norms.pth"]
        if close:
            hints.append(f"rename {close[0]} to {name}")
    found = ", ".join(present) if present else "nothing"
    msg = f"{what} {folder}: missing {', '.join(missing)} (found: {found}; needed: {', '.join(needed)})"
    if hints:
        msg += "; " + "; ".join(hints)
    raise VoicetuneError(msg)


def resolve_base(base: str | Path, needed: tuple[str, ...] = TRAIN_FILES) -> XttsBase:
    """A local folder, or a hub id (``owner/name``) downloaded when online; files checked."""
    path = Path(base).expanduser()
    if not path.exists() and is_repo_id(str(base)):
        path = _download(str(base), needed)
    check_files(path, needed)
    read_config(path / "config.json")
    return XttsBase(path, str(base))


def _download(repo_id: str, needed: tuple[str, ...]) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=[*needed, *OPTIONAL_FILES]))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated: all one message
        raise VoicetuneError(f"--base {repo_id}: not a folder here and the hub download failed "
                             f"({type(exc).__name__}); download {', '.join(needed)} into a folder and pass it") from None


def load_torch_file(path: Path):
    """torch.load with weights_only=True; coqui's original model.pth pickles its XttsConfig, which is
    allowed through coqui's own allowlist (still the restricted unpickler, never arbitrary code)."""
    import pickle

    import torch

    def load():
        # mmap: a 1.7 GB model.pth is paged in, not copied (only zip-format files support it)
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)

    try:
        return load()
    except pickle.UnpicklingError:
        from TTS.tts.models.xtts import _legacy_safe_globals

        try:
            with _legacy_safe_globals():
                return load()
        except pickle.UnpicklingError as exc:
            raise VoicetuneError(f"{path}: refuses to load with weights_only=True ({str(exc).splitlines()[0]}); "
                                 "re-save it as a plain state dict") from None
    except (RuntimeError, OSError, EOFError) as exc:
        raise VoicetuneError(f"{path}: not a readable torch file ({str(exc).splitlines()[0]}); "
                             "replace it with the release file") from None
