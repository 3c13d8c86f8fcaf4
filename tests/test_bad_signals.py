"""Ctrl+C and SIGTERM during prepare and during the bootstrap: exit 130/143, no traceback, the
dataset as it was, and what the bootstrap had done kept for the next run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from bad_inputs import leftovers, sha_tree, until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_prepare_leaves_the_dataset_as_it_was(tmp_path, joe_dataset, corpus, sig, code):
    out = tmp_path / "ds"
    shutil.copytree(joe_dataset, out)
    before = sha_tree(out)
    src = corpus["files"]["speech-96k-float-stereo.wav"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "voicetune", "prepare", src, "-o", out, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert until(lambda: any(p.name.startswith(".ds.tmp-") for p in tmp_path.iterdir())), "never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code and "Traceback" not in err, err
    assert leftovers(tmp_path) == [] and sha_tree(out) == before


def test_sigterm_during_the_bootstrap_keeps_what_is_done(tmp_path, joe_dataset, tiny_voice):
    """The posterior-encoder stage saves a snapshot every bootstrap.SNAPSHOT_EVERY steps; a SIGTERM
    exits 143 without a traceback, and the same command continues from the last snapshot."""
    from voicetune.models.vits import bootstrap as bs

    cache, dataset = tmp_path / "cache", tmp_path / "ds"
    shutil.copytree(joe_dataset, dataset)  # training writes feature caches into its dataset
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "VOICETUNE_CACHE": str(cache)}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("vits:\n  bootstrap:\n    sentences: 8\n")  # synthesis is not what this test is about
    cmd = [sys.executable, "-m", "voicetune", "train", "-d", dataset, "-b", tiny_voice, "-o", tmp_path / "run",
           "--bootstrap-steps", "100000", "--max-steps", "1", "--config", cfg, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        partial = lambda: list((cache / "bootstrap").glob("*.partial.safetensors"))  # noqa: E731
        assert until(partial, timeout=240), "no snapshot written"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Traceback" not in err, err
    from safetensors import safe_open

    with safe_open(str(partial()[0]), "pt") as f:
        saved = int(f.metadata()["step"])
    assert saved >= bs.SNAPSHOT_EVERY and saved % bs.SNAPSHOT_EVERY == 0
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing that looks like a run
    # the same command again continues from the snapshot (stopped once more after the next one)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines: list[str] = []
        assert until(lambda: lines.append(proc.stdout.readline()) or "continuing from step" in "".join(lines),
                      timeout=240), "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
        proc.kill()
    assert f"continuing from step {saved}" in "".join(lines)

