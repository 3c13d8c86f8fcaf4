"""voicetune.folders: what -o may name, the crash-safe swap and its recovery, paths kept inside."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from voicetune.errors import VoicetuneError
from voicetune.folders import DATASET, FolderBuild, check_output, contained, recover, swap_in


def tree(root):
    """relative path -> sha256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_foreign_folder_refused_and_untouched(tmp_path):
    out = make(tmp_path / "danger", {"notes.txt": "mine", "talk.mp3": "audio"})
    before = tree(out)
    with pytest.raises(VoicetuneError, match=r"danger: exists, is not empty and is not a voicetune dataset"):
        check_output(out, DATASET, own_is_fine=True)
    assert tree(out) == before


def test_input_inside_output_refused(tmp_path):
    out = make(tmp_path / "danger", {"talk.mp3": "audio"})
    with pytest.raises(VoicetuneError, match="lies inside the output folder"):
        check_output(out, DATASET, inputs=[out / "talk.mp3"], own_is_fine=True)
    with pytest.raises(VoicetuneError, match="lies inside the output folder"):
        check_output(out, DATASET, inputs=[out], own_is_fine=True)


def test_own_kind_needs_overwrite_unless_documented(tmp_path):
    out = make(tmp_path / "ds", {"dataset.json": "{}"})
    with pytest.raises(VoicetuneError, match="already holds a voicetune dataset; pass --overwrite"):
        check_output(out, DATASET)
    assert check_output(out, DATASET, overwrite=True) is True
    assert check_output(out, DATASET, own_is_fine=True) is True
    assert check_output(tmp_path / "new", DATASET) is False
    (tmp_path / "empty").mkdir()
    assert check_output(tmp_path / "empty", DATASET) is False


def test_unwritable_outputs_fail_before_work(tmp_path):
    with pytest.raises(VoicetuneError, match=r"/proc/x: cannot write in /proc"):
        check_output("/proc/x", DATASET)
    (tmp_path / "file").write_text("x")
    with pytest.raises(VoicetuneError, match="exists and is a file"):
        check_output(tmp_path / "file", DATASET)
    with pytest.raises(VoicetuneError, match="is a file, so the output cannot be created"):
        check_output(tmp_path / "file" / "sub", DATASET)


def test_swap_keeps_foreign_files_and_links_instead_of_copying(tmp_path):
    final = make(tmp_path / "ds", {"dataset.json": "old", "wavs/a.wav": "A", "notes.txt": "mine",
                                   ".cache/vits-v1/x.safetensors": "cached", "wavs/user.txt": "also mine"})
    inode = (final / ".cache/vits-v1/x.safetensors").stat().st_ino
    build = FolderBuild(final, keep_foreign=True)
    with build as tmp:
        make(tmp, {"dataset.json": "new", "wavs/b.wav": "B"})
        build.moved = {"wavs/a.wav"}  # the new folder keeps it elsewhere
        build.commit()
    assert tree(final) == {k: hashlib.sha256(v.encode()).hexdigest() for k, v in {
        ".cache/vits-v1/x.safetensors": "cached", "dataset.json": "new", "notes.txt": "mine", "wavs/b.wav": "B",
        "wavs/user.txt": "also mine"}.items()}
    assert (final / ".cache/vits-v1/x.safetensors").stat().st_ino == inode  # a hard link, not a copy
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp or old folder left


def test_error_inside_a_build_leaves_the_old_folder_whole(tmp_path):
    final = make(tmp_path / "ds", {"dataset.json": "old"})
    before = tree(final)
    with pytest.raises(RuntimeError), FolderBuild(final) as tmp:
        make(tmp, {"dataset.json": "half"})
        raise RuntimeError("boom")
    assert tree(final) == before and [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_interrupted_swap_is_recovered(tmp_path, monkeypatch):
    """Killed between the two renames: the old folder is at its recovery name, the new one at its temp
    name; the next command writing there puts the old one back and removes the half-done new one."""
    final = make(tmp_path / "ds", {"dataset.json": "old", "wavs/a.wav": "A"})
    before = tree(final)
    tmp = make(tmp_path / ".ds.tmp-999999", {"dataset.json": "new"})
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies here
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        swap_in(tmp, final)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not final.exists()
    old = tmp_path / f".ds.old-{os.getpid()}"
    assert tree(old) == before  # complete under its recovery name
    # the recovery name carries this (live) process's id: recovery waits for dead processes only
    renamed = tmp_path / ".ds.old-999998"
    old.rename(renamed)
    messages = []
    recover(final, messages.append)
    assert tree(final) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert any("restored from .ds.old-999998" in m for m in messages)
    assert any("removed" in m and ".ds.tmp-999999" in m for m in messages)


def test_finished_swap_leftover_old_is_removed(tmp_path):
    final = make(tmp_path / "ds", {"dataset.json": "new"})
    make(tmp_path / ".ds.old-999998", {"dataset.json": "old"})
    messages = []
    recover(final, messages.append)
    assert tree(final) == {"dataset.json": hashlib.sha256(b"new").hexdigest()}
    assert [p.name for p in tmp_path.iterdir()] == ["ds"] and "is complete" in messages[0]


def test_a_live_writer_is_not_disturbed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(30)", "voicetune"],
                            stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()  # started (its command line is in /proc now)
        make(tmp_path / f".ds.tmp-{proc.pid}", {"x": "being written"})
        with pytest.raises(VoicetuneError, match=f"another voicetune process \\(pid {proc.pid}\\) is writing it"):
            recover(tmp_path / "ds")
        assert (tmp_path / f".ds.tmp-{proc.pid}" / "x").exists()
    finally:
        proc.kill()
        proc.wait()


def test_paths_read_from_files_stay_inside(tmp_path):
    assert contained(tmp_path, "checkpoints/step-000002", "best.json") == tmp_path / "checkpoints/step-000002"
    for bad in ("../outside", "/etc/passwd", "checkpoints/../../x", ""):
        with pytest.raises(VoicetuneError, match="points outside"):
            contained(tmp_path, bad, "best.json")
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(VoicetuneError, match="resolves outside"):
        contained(tmp_path, "link", "best.json")


def test_run_files_cannot_name_files_outside_the_run(tmp_path):
    from voicetune.models.xtts.run import run_vocab

    assert run_vocab(tmp_path, {"vocab": "vocab.json", "base": "/b"}) == tmp_path / "vocab.json"
    with pytest.raises(VoicetuneError, match="xtts.json: path '../vocab.json' points outside"):
        run_vocab(tmp_path, {"vocab": "../vocab.json", "base": "/b"})
