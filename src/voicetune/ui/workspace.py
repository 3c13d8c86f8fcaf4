"""The workspace: one folder that holds everything the UI reads or writes.

A browser user types paths and uploads files, so every path is checked here before use: it must
name something inside the workspace after symlinks are followed. Uploads are copied in, never
read in place from the server's temp folder later.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError

UPLOADS, DATASET, RUNS, VOICES, SAID, STATE = "uploads", "dataset", "runs", "voices", "said", ".voicetune-ui"
_SAFE_NAME = re.compile(r"[^\w.-]+")


class OutsideWorkspace(VoicetuneError):
    """A path that leads out of the workspace (absolute elsewhere, `..`, a symlink out)."""


def resolve_inside(root: str | os.PathLike, user_path: str | os.PathLike) -> Path:
    """``user_path`` (relative to ``root``, or absolute inside it) as an absolute path inside ``root``.

    Refused: empty paths, any ``..`` component (even one that would land back inside: the rule is
    simple to state and to test), absolute paths elsewhere, and paths whose resolved target (a
    symlink anywhere along the way) lies outside.
    """
    base = Path(root).resolve()
    text = str(user_path).strip()
    if not text:
        raise OutsideWorkspace("empty path: give a path inside the workspace")
    p = Path(text).expanduser()
    if ".." in p.parts:
        raise OutsideWorkspace(f"{text}: '..' is not allowed; give a path inside the workspace {base}")
    full = p if p.is_absolute() else base / p
    real = full.resolve()  # follows every symlink on the way; missing tails stay as written
    if real != base and base not in real.parents:
        why = "is a symlink that leads" if full.absolute() != real and _inside(full.absolute(), base) else "is"
        raise OutsideWorkspace(f"{text} {why} outside the workspace {base}; copy the file into it (or upload it)")
    return real


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def safe_name(name: str) -> str:
    """A file name from an upload's name: its last component, with only letters, digits, '.', '_', '-'."""
    stem = _SAFE_NAME.sub("_", Path(name).name).lstrip(".")
    return stem or "upload"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike) -> Workspace:
        path = Path(root).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise VoicetuneError(f"--workspace {path}: is a file, not a folder")
        for sub in (UPLOADS, RUNS, VOICES, SAID, STATE):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return cls(path)

    def path(self, user_path: str | os.PathLike) -> Path:
        return resolve_inside(self.root, user_path)

    @property
    def dataset(self) -> Path:
        return self.root / DATASET

    @property
    def runs(self) -> Path:
        return self.root / RUNS

    @property
    def voices(self) -> Path:
        return self.root / VOICES

    @property
    def state(self) -> Path:
        return self.root / STATE

    def copy_in(self, src: str | os.PathLike, original_name: str | None = None) -> Path:
        """Copy an uploaded file (in the server's temp folder) to uploads/; a name already taken by
        different content gets a numbered suffix, so an upload never replaces another."""
        src = Path(src)
        name = safe_name(original_name or src.name)
        dst = self.root / UPLOADS / name
        n = 1
        while dst.exists() and not _same_file(dst, src):
            dst = dst.with_name(f"{Path(name).stem}-{n}{Path(name).suffix}")
            n += 1
        if not dst.exists():
            shutil.copyfile(src, dst)
        return dst


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
