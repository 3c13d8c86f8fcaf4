"""Real subprocesses: SIGTERM mid-run -> checkpoint -> resume == uninterrupted run; kill -9 during
a save leaves the previous checkpoint loadable; `accelerate launch` with 2 CPU processes (gloo)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train_helpers import RegressionBackend, weights_digest
from voicetune.trainer import checkpoints as ckpt
from voicetune.trainer.config import TrainConfig
from voicetune.trainer.engine import fit, resume

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).parent / "train_toy_run.py"
PY = sys.executable


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _wait_for(predicate, timeout=60.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.05)
    raise AssertionError("timed out")


def _train_steps(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return [r["step"] for r in rows if r["event"] == "train"]


def _reference(tmp_path: Path) -> tuple[RegressionBackend, list]:
    """The same run as train_toy_run.py's defaults, uninterrupted, in this process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        backend = RegressionBackend()
        cfg = TrainConfig(epochs=None, max_steps=40, batch_size=8, eval_every=5, log_every=1, device="cpu",
                          optimizer={"lr": 3e-3}, keep_top_k=0, early_stop={"enabled": False})
        fit(backend, cfg, tmp_path / "ref", show_progress=False)
    finally:
        torch.set_num_threads(threads)
    return backend, _curve(tmp_path / "ref")


def _curve(run: Path) -> list:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["event"] in ("train", "eval")]


def test_sigterm_mid_run_checkpoints_and_resume_matches_uninterrupted(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([PY, str(SCRIPT), str(run), "--step-sleep", "0.05"], env=_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: max(_train_steps(run), default=0) >= 12, proc=proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "RESULT interrupted" in out and f"voicetune train --resume {run}" in out.replace("\n", "")
    stopped = int(out.split("RESULT interrupted")[1].split()[0])
    assert 12 <= stopped < 40
    assert ckpt.latest(run).name == f"step-{stopped:06d}"

    out = subprocess.run([PY, str(SCRIPT), str(run), "--resume", "--digest", str(tmp_path / "d")], env=_env(),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    resumed = json.loads(Path(f"{tmp_path / 'd'}.rank0").read_text())
    assert resumed["status"] == "finished" and resumed["step"] == 40

    reference, ref_curve = _reference(tmp_path)
    assert resumed["digest"]["net"] == weights_digest(reference.net)  # bit-identical weights
    assert _curve(run) == ref_curve  # the same loss curve, no duplicated or missing steps


def test_kill_9_during_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    run = tmp_path / "run"
    marker = Path(f"{run}.hanging")
    proc = subprocess.Popen([PY, str(SCRIPT), str(run), "--hang-on-save", "2"], env=_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(marker.exists, proc=proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    torn = run / "checkpoints" / ".tmp-step-000010"
    assert (torn / "model.safetensors").exists()  # the half-written save is really there
    assert [p.name for p in ckpt.checkpoint_dirs(run)] == ["step-000005"]

    backend = RegressionBackend(init_seed=3)
    opt = torch.optim.AdamW(backend.net.parameters())
    trainer = ckpt.load(run / "checkpoints" / "step-000005", backend.modules(), {"main": opt}, None)
    assert trainer["step"] == 5

    result = resume(RegressionBackend(), run, show_progress=False)
    assert result.status == "finished" and result.step == 40 and not torn.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, *flags: str, extra: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, list[dict]]:
    accelerate = Path(PY).with_name("accelerate")
    cmd = [str(accelerate), "launch", *flags, "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           str(SCRIPT), str(tmp_path / "run"), "--backend", "gan", "--max-steps", "12",
           "--digest", str(tmp_path / "d"), *extra]
    out = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=240)
    digests = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("d.rank*"))]
    return out, digests


def test_accelerate_launch_two_cpu_processes_gloo(tmp_path):
    # On a machine without GPUs, --multi_gpu makes accelerate start N processes via torchrun;
    # they use gloo on CPU. (See the next test for what `--cpu` does.)
    out, digests = _launch(tmp_path, "--multi_gpu", "--num_processes", "2", extra=("--grad-accum", "2"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(digests) == 2 and all(d["status"] == "finished" and d["step"] == 12 for d in digests)
    assert digests[0]["digest"] == digests[1]["digest"]  # gradients were averaged: same weights
    start = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["world_size"] == 2 and start["total_steps"] == 12
    # 64 items / batch 8 / 2 processes / accumulation 2 = 2 optimizer steps per epoch
    assert "2 optimizer steps per epoch" in (tmp_path / "run" / "config.yaml").read_text()
    assert ckpt.latest(tmp_path / "run").name == "step-000012"
    assert (tmp_path / "run" / "checkpoints" / "step-000012" / "rng-rank1.pt").exists()


def test_accelerate_launch_cpu_flag_runs_end_to_end(tmp_path):
    # accelerate 1.15 runs `--cpu` jobs through its single-process launcher (unless
    # --mpirun_hostfile): the run completes with one process and the engine says so.
    out, digests = _launch(tmp_path, "--cpu", "--num_processes", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [d["status"] for d in digests] == ["finished"]
    assert "started one process" in out.stdout


@pytest.mark.slow
def test_sigterm_to_accelerate_launch_then_resume_matches_uninterrupted(tmp_path):
    """torchrun forwards SIGTERM to the workers: they agree to stop after the same step, save one
    checkpoint (both RNG states), exit 0; the launcher itself exits 1 (torch's SignalException)."""

    def launch(run, *extra, digest):
        accelerate = Path(PY).with_name("accelerate")
        return [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
                str(SCRIPT), str(run), "--max-steps", "60", "--digest", str(digest), *extra]

    ref = subprocess.run(launch(tmp_path / "ref", digest=tmp_path / "ref"), env=_env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "run"
    proc = subprocess.Popen(launch(run, "--step-sleep", "0.05", digest=tmp_path / "cut"), env=_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: max(_train_steps(run), default=0) >= 8, proc=proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    cut = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("cut.rank*"))]
    assert [c["status"] for c in cut] == ["interrupted", "interrupted"] and cut[0]["step"] == cut[1]["step"] < 60
    assert (ckpt.latest(run) / "rng-rank1.pt").exists()
    res = subprocess.run(launch(run, "--resume", digest=tmp_path / "res"), env=_env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    final = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("res.rank*"))]
    expected = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("ref.rank*"))]
    assert [f["step"] for f in final] == [60, 60]
    assert final[0]["digest"] == final[1]["digest"] == expected[0]["digest"]
