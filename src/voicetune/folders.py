"""Output folders: what `-o` may name, how a new folder replaces an old one, and paths read from
files that must stay inside their folder.

Every verb that writes a folder (prepare, dataset split/merge/import/import-hf/export, export, train,
demo, say --lines) checks its `-o` with :func:`check_output` before any work: an existing `-o` must be
empty or a folder of the kind being written, recognised by its marker file; anything else is
refused with one line, because replacing it would delete files voicetune did not create.

A folder is built as ``.NAME.tmp-PID`` beside its target and swapped in by :func:`swap_in`:
1. the old folder is renamed to ``.NAME.old-PID`` (its recovery name),
2. the new one is renamed to ``NAME``,
3. the old one is deleted.
At every instant the old or the new folder is complete under ``NAME`` or ``.NAME.old-PID``. The
next command that writes ``NAME`` finishes an interrupted swap (:func:`recover`): with ``NAME``
missing, ``.NAME.old-PID`` is renamed back; with both present, the old one is deleted. Temp
folders of processes that no longer run are removed, each with a message.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)$")


@dataclass(frozen=True)
class FolderKind:
    """A kind of folder voicetune writes, recognised by one of its marker files."""

    name: str  # "dataset", "voice folder", ...
    markers: tuple[str, ...]
    fix: str  # what to do instead, for the refusal message

    def holds(self, path: Path) -> bool:
        return path.is_dir() and any((path / m).is_file() for m in self.markers)


VOICE_MARKER = "voicetune-voice.json"
DATASET = FolderKind("voicetune dataset", ("dataset.json",), "choose a new or empty folder for -o")
VOICE = FolderKind("voicetune voice folder", (VOICE_MARKER,), "choose a new or empty folder for -o")
RUN = FolderKind("voicetune run", ("vits.json", "xtts.json"), "choose a new or empty folder for -o")
DEMO = FolderKind("voicetune demo folder", ("demo.json",), "choose a new or empty folder for -o")
EXPORT_MARKER = "voicetune-export.json"
DATASET_EXPORT = FolderKind("voicetune dataset export", (EXPORT_MARKER,), "choose a new or empty folder for -o")


def _pid_alive(pid: int) -> bool:
    """Is ``pid`` a running voicetune process? (PIDs are reused: on Linux its command line must
    name voicetune too, so a leftover of a killed run is not mistaken for a live writer.)"""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    try:
        return b"voicetune" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: assume it is


def tmp_sibling(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")


def recover(final: Path, log: Callable[[str], None] = print) -> None:
    """Finish what an interrupted swap of ``final`` left beside it (see the module doc)."""
    final = Path(final)
    parent = final.parent
    if not parent.is_dir():
        return
    leftovers = []
    for p in parent.iterdir():
        m = _LEFTOVER.match(p.name)
        if m and m["name"] == final.name and p.is_dir():
            leftovers.append((p, m["what"], int(m["pid"])))
    for p, what, pid in sorted(leftovers, key=lambda x: x[1] != "old"):  # restore before cleaning
        if _pid_alive(pid):
            if pid != os.getpid():
                raise VoicetuneError(f"{final}: another voicetune process (pid {pid}) is writing it; wait for it "
                                     "to finish or stop it")
            continue
        if what == "old" and not final.exists():
            os.replace(p, final)
            log(f"note: {final}: restored from {p.name} (a swap was interrupted before the new folder was in place)")
        elif what == "old":
            shutil.rmtree(p, ignore_errors=True)
            log(f"note: removed {p} (the previous {final.name}, left by an interrupted swap; {final.name} is complete)")
        else:
            shutil.rmtree(p, ignore_errors=True)
            log(f"note: removed {p} (a half-written folder left by an interrupted voicetune run)")


def is_inside(child: Path, parent: Path) -> bool:
    c, p = Path(child).resolve(), Path(parent).resolve()
    return c == p or p in c.parents


def check_output(path: str | os.PathLike, kind: FolderKind, *, inputs: Iterable[str | os.PathLike] = (),
                 overwrite: bool = False, own_is_fine: bool = False, log: Callable[[str], None] = print) -> bool:
    """Refuse an `-o` whose replacement could lose data; returns True when it holds a folder of
    ``kind`` that the caller will add to or replace.

    ``own_is_fine``: replacing/adding to ``kind`` is the verb's documented behaviour (prepare adds
    to a dataset); otherwise it takes ``--overwrite``. Inputs inside the output are refused.
    """
    path = Path(path)
    recover(path, log)
    for item in inputs:
        if Path(item).exists() and is_inside(item, path):
            raise VoicetuneError(f"{item}: lies inside the output folder {path}; write the output somewhere else "
                                 "(the output is replaced as a whole)")
    if path.exists() and not path.is_dir():
        raise VoicetuneError(f"{path}: exists and is a file; -o names a folder to create")
    own = False
    if path.is_dir() and any(path.iterdir()):
        if not kind.holds(path):
            raise VoicetuneError(f"{path}: exists, is not empty and is not a {kind.name}; refusing to replace "
                                 f"files voicetune did not write: {kind.fix}")
        if not (own_is_fine or overwrite):
            raise VoicetuneError(f"{path}: already holds a {kind.name}; pass --overwrite to replace it, or choose "
                                 "a new folder for -o")
        own = True
    check_writable(path, path.absolute().parent)
    return own


def check_writable(output: Path, folder: Path) -> None:
    """``folder`` (or its nearest existing ancestor) must let us create entries: checked before any
    work, so an unwritable -o fails in a second, not after minutes of it."""
    probe = Path(folder).absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise VoicetuneError(f"{output}: {probe} is a file, so the output cannot be created there; choose another -o")
    test = probe / f".voicetune-write-test-{os.getpid()}"
    try:
        test.mkdir()
        test.rmdir()
    except OSError as exc:
        raise VoicetuneError(f"{output}: cannot write in {probe} ({exc.strerror}); choose another -o") from None


def check_output_file(path: str | os.PathLike) -> Path:
    """A file output (`say -o x.wav`): refused before any work when it names a folder or cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise VoicetuneError(f"{path}: is a folder; -o names the .wav file to write (or use --lines for a folder)")
    check_writable(path, path.absolute().parent)
    if path.exists() and not os.access(path, os.W_OK):
        raise VoicetuneError(f"{path}: exists and is not writable; choose another -o")
    return path


def link_file(src: Path, dst: Path) -> None:
    """``dst`` becomes a hard link of ``src`` (a copy where the filesystem has no hard links)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path, skip: frozenset[str], rel: str = "") -> None:
    """``dst`` gets every entry of ``src`` it lacks (files hard-linked), except the relative paths
    in ``skip``."""
    dst.mkdir(exist_ok=True)
    for entry in src.iterdir():
        target = dst / entry.name
        name = f"{rel}{entry.name}"
        if name in skip:
            continue
        if entry.is_symlink():
            if not target.exists() and not target.is_symlink():
                os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            if target.exists() and not target.is_dir():
                continue  # the new folder wrote a file of that name: ours wins
            _link_tree(entry, target, skip, f"{name}/")
        elif not target.exists():
            link_file(entry, target)


def swap_in(tmp: Path, final: Path, *, keep_foreign: bool = False, moved: Iterable[str] = ()) -> None:
    """Put the complete folder ``tmp`` in place of ``final`` (see the module doc for the steps).

    ``keep_foreign``: entries of the old folder that the new one lacks (a ``.cache/``, the user's
    own notes) are hard-linked into the new folder before the swap, so none is lost; ``moved``
    lists old relative paths (``/``-separated) the new folder holds under another name.
    """
    tmp, final = Path(tmp), Path(final)
    if final.exists() and keep_foreign:
        _link_tree(final, tmp, frozenset(moved))
    _fsync_dir(tmp)
    if not final.exists():
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, old)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def discard(final: Path) -> None:
    """Remove a folder of ours that a re-run rebuilds in place (renamed to its recovery name first,
    so an interruption leaves it whole or gone, never half-deleted under its real name)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, old)
    final.mkdir()  # present again before the deletion starts: recover() then only deletes the old one
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems cannot open folders; the renames are still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FolderBuild:
    """``with FolderBuild(final) as tmp: ...; build.commit()``: the temp folder is removed on any
    error or signal; ``commit`` swaps it in."""

    def __init__(self, final: str | os.PathLike, *, keep_foreign: bool = False) -> None:
        self.final = Path(final)
        self.tmp = tmp_sibling(self.final)
        self.keep_foreign = keep_foreign
        self.moved: set[str] = set()  # see swap_in

    def __enter__(self) -> Path:
        shutil.rmtree(self.tmp, ignore_errors=True)
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise VoicetuneError(f"{self.final}: cannot create a folder beside it ({exc.strerror}); choose another -o") from None
        return self.tmp

    def commit(self) -> None:
        swap_in(self.tmp, self.final, keep_foreign=self.keep_foreign, moved=self.moved)

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def contained(root: str | os.PathLike, relative: str, source: str | os.PathLike) -> Path:
    """``root / relative`` for a path read from ``source``; refused when it would leave ``root``
    (absolute, ``..``, a symlink pointing out)."""
    root = Path(root)
    rel = Path(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts or "\x00" in relative:
        raise VoicetuneError(f"{source}: path {relative!r} points outside {root}; the file is damaged or crafted "
                             "(restore it or re-create the folder)")
    full = root / rel
    if full.exists() and not is_inside(full, root):
        raise VoicetuneError(f"{source}: path {relative!r} resolves outside {root} (a symlink); refusing to follow it")
    return full
