"""The UI's path rules and run lock: pure functions, no browser (tests/test_ui.py drives the page)."""

from __future__ import annotations

import json
import os

import pytest

from voicetune.errors import VoicetuneError
from voicetune.ui.workspace import OutsideWorkspace, Workspace, resolve_inside, safe_name


@pytest.fixture
def ws(tmp_path):
    return Workspace.open(tmp_path / "ws")


def test_paths_inside_are_accepted(ws):
    (ws.root / "bases").mkdir()
    assert resolve_inside(ws.root, "bases/tiny.onnx") == ws.root / "bases" / "tiny.onnx"
    assert resolve_inside(ws.root, str(ws.root / "bases")) == ws.root / "bases"
    assert resolve_inside(ws.root, "./runs") == ws.root / "runs"
    assert ws.path(".") == ws.root


@pytest.mark.parametrize("bad", ["../secret", "runs/../../x", "runs/..", "/etc/passwd", "", "   "])
def test_dotdot_absolute_and_empty_are_refused(ws, bad):
    with pytest.raises(OutsideWorkspace) as err:
        resolve_inside(ws.root, bad)
    assert "\n" not in str(err.value) and ("workspace" in str(err.value))


def test_absolute_path_beside_the_workspace_is_refused(ws, tmp_path):
    # a sibling whose name starts with the workspace's: a string-prefix check would let it through
    (tmp_path / "ws-other").mkdir()
    with pytest.raises(OutsideWorkspace, match="outside the workspace"):
        resolve_inside(ws.root, str(tmp_path / "ws-other" / "x.onnx"))


def test_symlink_out_is_refused(ws, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "voice.onnx").write_bytes(b"x")
    os.symlink(outside, ws.root / "link")
    with pytest.raises(OutsideWorkspace, match="symlink that leads outside"):
        resolve_inside(ws.root, "link/voice.onnx")
    os.symlink(ws.root / "runs", ws.root / "inner")  # a symlink that stays inside is fine
    assert resolve_inside(ws.root, "inner") == ws.root / "runs"


def test_uploads_are_copied_in_under_a_safe_name(ws, tmp_path):
    src = tmp_path / "my take (1).wav"
    src.write_bytes(b"one")
    dst = ws.copy_in(src)
    assert dst.parent == ws.root / "uploads" and dst.name == "my_take_1_.wav" and dst.read_bytes() == b"one"
    assert ws.copy_in(src) == dst  # the same upload twice: one copy
    src.write_bytes(b"two")
    assert ws.copy_in(src).name == "my_take_1_-1.wav"  # a different file of that name never replaces it
    assert safe_name("../../.bashrc") == "bashrc" and safe_name("...") == "upload"


def test_one_run_at_a_time(ws):
    from voicetune.ui import runs

    (ws.dataset).mkdir()
    (ws.dataset / "dataset.json").write_text("{}")
    # a live process holds the lock (this test's own pid): a second Start names the run going
    (ws.state / runs.LOCK).write_text(json.dumps({"run": "run-1", "pid": os.getpid(), "started": 0}))
    with pytest.raises(VoicetuneError, match="run run-1 is training"):
        runs.start_run(ws, runs.TrainSettings())
    # a lock whose process is gone is stale: dropped, not blocking
    (ws.state / runs.LOCK).write_text(json.dumps({"run": "run-1", "pid": 2**22 + 12345, "started": 0}))
    assert runs.active_run(ws) is None and not (ws.state / runs.LOCK).exists()


def test_train_refuses_a_base_outside(ws, tmp_path):
    from voicetune.ui import runs

    (ws.dataset).mkdir()
    (ws.dataset / "dataset.json").write_text("{}")
    with pytest.raises(OutsideWorkspace):
        runs.start_run(ws, runs.TrainSettings(base=str(tmp_path / "elsewhere.onnx")))
    with pytest.raises(OutsideWorkspace):
        runs.start_run(ws, runs.TrainSettings(config="../cfg.yaml"))
