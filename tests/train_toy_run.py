"""Subprocess entry for the trainer tests (SIGTERM, kill -9 during save, accelerate launch).

    python tests/train_toy_run.py RUN_DIR [--backend gan|regression] [--max-steps N] [--resume]
                                   [--step-sleep S] [--hang-on-save K] [--digest FILE]

--hang-on-save K: the K-th checkpoint save writes half of its weights file, then signals
readiness (RUN_DIR.hanging) and sleeps, so the test can kill -9 the process mid-save.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402

from train_helpers import GanBackend, RegressionBackend, weights_digest  # noqa: E402
from voicetune.trainer import checkpoints  # noqa: E402
from voicetune.trainer.config import TrainConfig  # noqa: E402
from voicetune.trainer.engine import fit, resume  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--backend", default="regression")
    ap.add_argument("--max-steps", type=int, default=40)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--step-sleep", type=float, default=0.0)
    ap.add_argument("--hang-on-save", type=int, default=0)
    ap.add_argument("--digest")
    ap.add_argument("--grad-accum", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)

    if args.hang_on_save:
        real = checkpoints.save_weights
        calls = {"n": 0}

        def hanging(modules, path):
            calls["n"] += 1
            if calls["n"] < args.hang_on_save:
                return real(modules, path)
            real(modules, path)
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])  # a torn write, as a crash would leave it
            Path(args.run + ".hanging").write_text(str(path))
            time.sleep(600)

        checkpoints.save_weights = hanging

    backend = GanBackend() if args.backend == "gan" else RegressionBackend(step_sleep=args.step_sleep)
    if args.resume:
        result = resume(backend, args.run, show_progress=False)
    else:
        cfg = TrainConfig(epochs=None, max_steps=args.max_steps, batch_size=8, eval_every=args.eval_every,
                          grad_accum=args.grad_accum,
                          log_every=1, device="cpu", optimizer={"lr": 3e-3}, keep_top_k=0,
                          early_stop={"enabled": False})
        result = fit(backend, cfg, args.run, show_progress=False)
    if args.digest:
        from accelerate.state import PartialState

        rank = PartialState().process_index
        digest = {n: weights_digest(m) for n, m in backend.modules().items()}
        Path(f"{args.digest}.rank{rank}").write_text(json.dumps({"status": result.status, "step": result.step,
                                                                 "digest": digest}))
    print(f"RESULT {result.status} {result.step}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
