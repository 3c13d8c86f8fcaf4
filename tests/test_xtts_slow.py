"""Full-size XTTS (the release architecture, random weights): one training step on CPU within the
memory goal — peak RSS <= 8 GiB at batch 2 with voicetune's defaults (conditioning encoder frozen,
gradient checkpointing). Minutes and ~8 GB: run with `pytest -m slow tests/test_xtts_slow.py`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from xtts_helpers import make_dataset

CHILD = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from voicetune.models.xtts.finetune import XttsTrainOptions
    from voicetune.models.xtts.run import build_backend
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    base, data, run = map(Path, sys.argv[1:4])
    backend, _ = build_backend(data, base, XttsTrainOptions(gradient_checkpointing=True), run, log=lambda *a: None)
    cfg = TrainConfig(max_steps=1, epochs=None, batch_size=2, device="cpu", gradient_checkpointing=True,
                      optimizer={"lr": 5e-6}, clip_norm=1.0, eval_every=10_000, save_every=10_000)
    result = fit(backend, cfg, run, show_progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    loss = next(r["loss"] for r in rows if r["event"] == "train")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("RESULT " + json.dumps({"status": result.status, "loss": loss, "peak_gb": peak,
                                  "trainable": backend.trainable()}))
""")


@pytest.mark.slow
def test_full_size_xtts_step_fits_the_memory_goal(tmp_path):
    from voicetune.models.xtts.random_base import make_random_base
    from voicetune.sample_data import sentences

    base = make_random_base(tmp_path / "base", "full")
    data = make_dataset(tmp_path / "data", [s for s in sentences() if len(s) < 90][:8])
    proc = subprocess.run([sys.executable, "-c", CHILD, str(base), str(data), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=1800)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    out = json.loads(line[7:])
    print(out)
    assert out["status"] == "finished"
    trainable, total = out["trainable"]
    assert total > 400e6  # the release architecture
    assert all(v == v and v < 20 for v in out["loss"].values())  # finite
    assert out["peak_gb"] <= 8.0, f"peak RSS {out['peak_gb']:.2f} GiB over the 8 GiB goal"
