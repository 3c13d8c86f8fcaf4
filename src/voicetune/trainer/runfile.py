"""The run file: the one JSON a backend writes beside the engine's files (``vits.json``,
``xtts.json``) holding what it needs to resume, speak with or export any checkpoint of the run
(base, dataset, options, model and voice config). One reader and writer for every backend, so a run
folder and its ``checkpoints/step-N`` folders are found, read and refused the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json


@dataclass(frozen=True)
class RunFile:
    name: str  # the file's name in the run folder, e.g. "vits.json"
    kind: str  # how errors name the run, e.g. "VITS"
    format_version: int = 1

    def holds(self, path: Path) -> bool:
        """Is ``path`` a run folder of this kind?"""
        path = Path(path)
        return path.is_dir() and (path / self.name).exists()

    def run_of(self, target: Path) -> Path | None:
        """The run folder of a run folder or of one of its ``checkpoints/step-N`` folders."""
        target = Path(target)
        if self.holds(target):
            return target
        if (target / "trainer.json").exists() and self.holds(target.resolve().parent.parent):
            return target.resolve().parent.parent
        return None

    def read(self, run_dir: Path) -> dict:
        """The run file, or a one-line error when it is missing, damaged or of an unknown version."""
        path = Path(run_dir) / self.name
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VoicetuneError(f"{run_dir}: not a voicetune {self.kind} run (no {self.name}); give the -o folder "
                                 "of `voicetune train`") from None
        except (OSError, ValueError) as exc:
            raise VoicetuneError(f"{path}: unreadable run file ({exc}); the run folder is damaged") from None
        if not isinstance(info, dict) or info.get("format_version") != self.format_version:
            version = info.get("format_version") if isinstance(info, dict) else None
            raise VoicetuneError(f"{path}: unknown format_version {version!r} (this voicetune reads "
                                 f"{self.format_version}); upgrade voicetune, or the run folder is damaged")
        return info

    def write(self, run_dir: Path, info: dict) -> None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(run_dir) / self.name, {"format_version": self.format_version, **info})

    def checkpoint(self, target: Path, which: str = "best") -> tuple[Path, Path]:
        """(checkpoint folder, run folder) from a run folder (its best checkpoint, else its last, or
        the last with ``which="last"``) or from one of its checkpoint folders."""
        from voicetune.trainer import checkpoints as ckpt

        target = Path(target)
        if not target.exists():
            raise VoicetuneError(f"{target}: not found; give a run folder (the -o of `voicetune train`) or one of "
                                 "its checkpoint folders")
        run_dir = self.run_of(target)
        if run_dir is None:
            raise VoicetuneError(f"{target}: not a voicetune {self.kind} run (no {self.name}) or one of its "
                                 "checkpoints; give the -o folder of `voicetune train`")
        if run_dir != target:
            return target, run_dir
        if which not in ("best", "last"):
            raise VoicetuneError(f"--checkpoint {which}: choose best or last")
        found = (ckpt.best_checkpoint(target) if which == "best" else None) or ckpt.latest(target)
        if found is None:
            raise VoicetuneError(f"{target}: the run has no checkpoint yet; train it first (`voicetune train "
                                 f"--resume {target}`)")
        return found, run_dir
