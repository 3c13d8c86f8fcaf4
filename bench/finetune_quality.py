"""Benchmark (issue 5, the number that matters most): does fine-tuning Joe move it to a new voice?

Target: Joe re-voiced through WORLD (F0 x 0.78, formants x 0.90; `voicetune.sample_data.revoice`),
reading the built-in sentences plus generated ones (~7 min of audio, two "sessions": an MP3 and a
44.1 kHz stereo FLAC), prepared by `voicetune prepare`. Evaluation: the 20 built-in evaluation
sentences (never trained on), Whisper tiny.en WER, resemblyzer similarity to the target's eval
clips, WORLD median F0, share of voiced frames locked at the decoder frame rate (86 Hz).

Each configuration is one `voicetune train` run (Joe base, cached bootstrap) with a wall-clock
budget; every `--save-every` steps a checkpoint is kept, and afterwards the checkpoints nearest to
the marks are evaluated. `--parallel` trains the configurations side by side with ONE thread each
(on 2 cores two 1-thread jobs do more steps in total than one 2-thread job,
../shared/notes/finetune-experiment.md). Time is the training process's CPU time (one thread:
the wall-clock time of an idle core), so the curve does not depend on what else ran meanwhile;
the wall-clock minutes are recorded beside it. `--minutes` is a wall-clock budget per run.

    .venv/bin/python bench/finetune_quality.py --minutes 60 --parallel [--out bench-out/quality]

Goals (issue 5): similarity >= base + 0.10 and >= target-vs-target - 0.05; WER <= base + 3 points;
median F0 within 15 % of the target's; frame-rate lock <= the target's own + 5 points.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    # the demo's setting: text encoder and duration predictor frozen all run
    "freeze-enc_p-dp": "vits:\n  freeze: [enc_p, dp]\n",
    # pitch lives in the prior: let the text encoder (and flow) learn after the 100-step warm-up
    "freeze-dp": "vits:\n  freeze: [dp]\n",
    # everything trains after the warm-up
    "freeze-none": "vits:\n  freeze: []\n",
    # against the 86 Hz buzz: the HiFi-GAN decoder frozen, or at a tenth of the LR
    "freeze-enc_p-dp-dec": "vits:\n  freeze: [enc_p, dp, dec]\n",
    "dec-lr-0.1": "vits:\n  freeze: [enc_p, dp]\n  lr_mult: {dec: 0.1}\n",
}
COMMON = ("  disc_periods: [2, 3, 5]\n  samples: 1\noptimizer:\n  lr: 0.0002\nscheduler:\n  name: constant\n"
          "early_stop:\n  enabled: false\n")
MARKS = (5, 10, 20, 30, 45, 60)


def build_target(out: Path) -> Path:
    """The target speaker's dataset (built once; reused by later runs of this script)."""
    from voicetune.data.build import prepare
    from voicetune.demo import make_recordings
    from voicetune.sample_data import generated_sentences, sentences

    dataset = out / "target-dataset"
    if (dataset / "dataset.json").exists():
        return dataset
    held_out = {s.lower() for s in sentences("eval_sentences_en")}
    texts = [t for t in sentences() + generated_sentences(90, seed=11) if t.lower() not in held_out]
    rec = out / "target-recordings"
    rec.mkdir(parents=True, exist_ok=True)
    prepare(make_recordings(rec, texts), dataset)
    return dataset


def evaluate(synth, dataset: Path, who: str) -> dict:
    from voicetune.evaluate.report import evaluate_voice
    from voicetune.sample_data import sentences

    r = evaluate_voice(synth, dataset, sentences("eval_sentences_en"), target=who)
    return {"who": who, "similarity": r.similarity, "wer": r.wer, "median_f0": r.median_f0, "lock": r.lock_share,
            "reference_similarity": r.reference_similarity, "reference_wer": r.reference_wer,
            "dataset_f0": r.dataset_median_f0, "dataset_lock": r.dataset_lock_share, "eval_seconds": r.eval_seconds}


def warm_caches(dataset: Path) -> None:
    """Features and the posterior-encoder bootstrap once, before parallel runs would race for them."""
    from voicetune.models.vits.finetune import VitsTrainOptions
    from voicetune.models.vits.run import build_backend

    build_backend(dataset, "joe", VitsTrainOptions(), log=lambda *a: None)


def _clock_log(path: Path, every: float = 5.0) -> None:
    """(wall, process CPU) pairs every few seconds: with one thread per run, CPU seconds are what
    the run would have taken on an idle core, whatever else the machine was doing meanwhile."""
    import threading

    offset = float(path.read_text().split()[-1]) if path.exists() and path.read_text().strip() else 0.0

    def loop() -> None:  # cumulative over resumed processes
        with open(path, "a") as fh:
            while True:
                fh.write(f"{time.time():.3f} {offset + time.process_time():.3f}\n")
                fh.flush()
                time.sleep(every)

    threading.Thread(target=loop, daemon=True).start()


def train_one(name: str, dataset: Path, run: Path, minutes: float, save_every: int) -> None:
    from voicetune.models.vits.training import run_training

    _clock_log(run.parent / f"{name}.clock")
    if (run / "metrics.jsonl").exists():  # --extend: continue the run for another budget
        run_training(dataset=None, base=None, output=None, config=None, resume=run,
                     overrides={"max_minutes": minutes}, show_progress=False, log=lambda *a: None)
        return
    config = run.parent / f"{name}.yaml"
    config.write_text(CONFIGS[name] + COMMON)
    overrides = {"max_minutes": minutes, "batch_size": 4, "epochs": 100000, "save_every": save_every,
                 "eval_every": save_every, "keep_top_k": 1000, "log_every": 10}
    run_training(dataset=dataset, base="joe", output=run, config=config, resume=None, overrides=overrides,
                 show_progress=False, log=lambda *a: None)


def checkpoint_times(run: Path, clock: Path) -> list[tuple[float, float, int, Path]]:
    """(CPU minutes, wall minutes since the run started, step, folder) of every saved checkpoint."""
    import numpy as np

    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    start = next(e["time"] for e in events if e["event"] == "start")
    wall, cpu = np.loadtxt(clock, ndmin=2).T
    cpu_at = lambda t: float(np.interp(t, wall, cpu))  # noqa: E731
    return [((cpu_at(e["time"]) - cpu_at(start)) / 60, (e["time"] - start) / 60, e["step"], run / e["path"])
            for e in events if e["event"] == "checkpoint" and (run / e["path"]).exists()]


def goals(row: dict, base: dict, target: dict) -> dict[str, bool]:
    return {
        "sim+0.10": row["similarity"] >= base["similarity"] + 0.10,
        "sim~target": row["similarity"] >= target["similarity"] - 0.05,
        "wer<=base+3": row["wer"] <= base["wer"] + 0.03,
        "f0±15%": abs(row["median_f0"] / target["median_f0"] - 1) <= 0.15,
        "lock<=target+5": row["lock"] <= target["lock"] + 0.05,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="training budget per configuration")
    ap.add_argument("--configs", default="freeze-enc_p-dp,freeze-dp", help=f"comma list of {', '.join(CONFIGS)}")
    ap.add_argument("--parallel", action="store_true", help="train the configurations side by side, 1 thread each")
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--marks", default=",".join(map(str, MARKS)), help="minutes at which checkpoints are evaluated")
    ap.add_argument("--out", type=Path, default=Path("bench-out/quality"))
    ap.add_argument("--extend", action="store_true", help="resume the existing runs for another --minutes")
    ap.add_argument("--train-one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = args.out.resolve()
    if args.train_one:
        train_one(args.train_one, out / "target-dataset", out / "runs" / args.train_one, args.minutes, args.save_every)
        return

    from voicetune.data.dataset import load_dataset
    from voicetune.evaluate.targets import synthesizer_for

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    marks = [float(m) for m in args.marks.split(",")]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    dataset = build_target(out)
    ds = load_dataset(dataset)
    print(f"target dataset: {len(ds.train)} train / {len(ds.eval)} eval clips, {ds.minutes:.1f} min "
          f"({time.monotonic() - t0:.0f} s)", flush=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if "base" not in results:
        base = evaluate(synthesizer_for("joe", backend="torch"), dataset, "base (Joe)")
        results["base"] = base
        results["target"] = {"who": "target itself", "similarity": base["reference_similarity"],
                             "wer": base["reference_wer"], "median_f0": base["dataset_f0"], "lock": base["dataset_lock"]}
        results_path.write_text(json.dumps(results, indent=1))
    print(json.dumps(results["base"]), flush=True)
    warm_caches(dataset)

    todo = [n for n in names if args.extend or not (out / "runs" / n / "metrics.jsonl").exists()]
    (out / "runs").mkdir(exist_ok=True)
    env = dict(os.environ)
    if args.parallel:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--out", str(out), "--minutes", str(args.minutes),
           "--save-every", str(args.save_every), "--train-one"]
    procs = []
    for name in todo:
        procs.append(subprocess.Popen([*cmd, name], env=env))
        if not args.parallel:
            procs[-1].wait()
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a training run failed (exit {p.returncode})")

    rows = results.setdefault("rows", {})
    for name in names:
        times = checkpoint_times(out / "runs" / name, out / "runs" / f"{name}.clock")
        for mark in marks:
            if not times or mark > times[-1][0] + 1.0:
                continue
            minutes, wall, step, folder = min(times, key=lambda t: abs(t[0] - mark))
            key = f"{name}@{step}"
            if key not in rows:
                row = evaluate(synthesizer_for(folder), dataset, key)
                rows[key] = {**row, "config": name, "minutes": minutes, "wall_minutes": wall, "step": step}
                results_path.write_text(json.dumps(results, indent=1))
            r = rows[key]
            print(f"{name:16s} {r['minutes']:5.1f} min step {step:5d}: sim {r['similarity']:.3f} wer {r['wer']:.3f} "
                  f"f0 {r['median_f0']:.0f} lock {r['lock']:.3f}", flush=True)
    print_table(results)


def print_table(results: dict) -> None:
    base, target = results["base"], results["target"]
    print("\n| config | min (1 core) | step | similarity | WER | median F0 | lock 86 Hz | goals met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in (target, base):
        print(f"| {r['who']} | – | – | {r['similarity']:.3f} | {r['wer']:.3f} | {r['median_f0']:.0f} Hz | "
              f"{r['lock']:.3f} | – |")
    for r in sorted(results.get("rows", {}).values(), key=lambda r: (r["config"], r["step"])):
        met = goals(r, base, target)
        print(f"| {r['config']} | {r['minutes']:.1f} | {r['step']} | {r['similarity']:.3f} | {r['wer']:.3f} | "
              f"{r['median_f0']:.0f} Hz | {r['lock']:.3f} | {sum(met.values())}/5 "
              f"({', '.join(k for k, v in met.items() if not v) or 'all'} {'missed' if not all(met.values()) else ''}) |")


if __name__ == "__main__":
    main()
