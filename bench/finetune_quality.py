"""Benchmark (the number that matters most): does fine-tuning Joe reach a new voice, without a buzz?

Targets: the two WORLD re-voices of bench/quality_targets.py (``low``: F0 x 0.78, formants x 0.90;
``high``: F0 x 1.4, formants x 1.1), ~9 minutes each after `voicetune prepare`. Evaluation: the 20
built-in evaluation sentences (never trained on): Whisper tiny.en WER, resemblyzer similarity to
the target's eval clips, median F0 (WORLD harvest), the share of voiced frames locked at the
decoder frame rate (86 Hz) and the frame-rate comb (dB; pitch-independent buzz measure).

Each configuration is one `voicetune train` run on the Joe base (bootstrap cached per base) with a
wall-clock budget; every checkpoint is kept (one each ``--save-every`` steps), and those nearest to
the ``--marks`` (CPU minutes) and the last one are evaluated afterwards. ``default`` is what a user
gets from `voicetune train --max-minutes N` with no other option. Every training process runs at
one thread; `--parallel` trains two side by side. Minutes are the training process's CPU time
inside its training segments (one thread: the time an idle core takes), so the curve does not
depend on other load; wall minutes are recorded beside them. `--extend` resumes the runs for
another ``--minutes``; the minutes of an extended run add up its segments (from a process's
"start"/"resume" event to its last event), not the set-up of the resumed process.
For every evaluated checkpoint a narrow-band spectrogram (target, base, checkpoint) is written
next to results.json: a buzz shows as flat lines at k x 86 Hz.

    .venv/bin/python bench/finetune_quality.py --targets high --configs default --minutes 20 --parallel
    .venv/bin/python bench/finetune_quality.py --list            # the configurations
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from quality_targets import DEFAULT_OUT, TARGETS, build_target, evaluate, goals, target_row  # noqa: E402

# Lever configurations: YAML given to `voicetune train --config`. BENCH pins what the levers are
# compared under (batch 4, AdamW 2e-4 constant, no early stop) so that one lever changes at a time.
BENCH = "optimizer:\n  lr: 0.0002\nscheduler:\n  name: constant\nearly_stop:\n  enabled: false\nbatch_size: 4\n"
# the posterior-encoder bootstrap the L-/F- lever runs share (bench/posterior_recon.py, "long")
BOOT = "  bootstrap:\n    enc_q_steps: 1800\n    lr: 0.0005\n    lr_schedule: constant\n"
CONFIGS: dict[str, str] = {
    "default": "",  # the product's defaults: nothing but --max-minutes
    # the product's defaults, the flow alone for the first half (prior-only steps: the decoder and
    # the discriminator idle), then the resblocks + conv_post as the default trains them: the flow
    # alone moved the high target's F0 toward it (128 -> 141 Hz), the default's joint run did not
    "default-flow-first": "vits:\n  prior_warmup_steps: 0\n  freeze_until:\n    dec.resblocks: 0.5\n"
                          "    dec.conv_post: 0.5\n",
    # the product's defaults with the posterior encoder trained too, at a tenth of the LR (Adam moves
    # each weight by about the LR per step, so this keeps it near the distilled one): the decoder's
    # resblocks pull the pitch to what enc_q's latent carries, so let the latent learn the target's
    "default-encq-slow": "vits:\n  freeze: [enc_p, dp, dec.conv_pre, dec.ups]\n  lr_mult:\n    enc_q: 0.1\n",
    # the same at 0.3x: does the latent's pitch follow a faster posterior encoder, or does it drift?
    "default-encq-mid": "vits:\n  freeze: [enc_p, dp, dec.conv_pre, dec.ups]\n  lr_mult:\n    enc_q: 0.3\n",
    # the flow alone moved the high target's F0 up and the training resblocks pulled it back
    # (default-flow-first): the decoder at 0.3x pulls less; the flow at 3x moves the pitch sooner
    "default-dec-slow": "vits:\n  lr_mult:\n    dec: 0.3\n",
    "default-flow-fast": "vits:\n  lr_mult:\n    flow: 3.0\n",
    # the decoder trained on the latent inference gives it (the flow's inverse of the prior at the
    # alignment's durations) instead of enc_q's, whose pitch it learned in every run above; -grad:
    # the waveform losses train the flow through its inverse too, not only the KL
    "default-prior-dec": "vits:\n  decoder_latent: prior\n",
    "default-prior-dec-grad": "vits:\n  decoder_latent: prior\n  prior_latent_grad: true\n",
    # the same latent without its noise: one latent per clip, not a new draw each step to average over
    "default-prior-dec-mean": "vits:\n  decoder_latent: prior\n  prior_latent_noise: 0.0\n",
    # the posterior encoder first moved to the target's clips through the frozen base decoder
    # (models/vits/posterior_adapt.py; ~1.25 s a step at one thread), then the default run on the
    # rest of the budget: the default's own decoder never reaches the pitch its latent lacks
    "default-adapt": "vits:\n  posterior_adapt:\n    steps: 240\n",
    "default-adapt-480": "vits:\n  posterior_adapt:\n    steps: 480\n",
    # bench/pitch_path.py put the pitch's loss at inference on the prior's side (the aligned prior
    # decodes lower than the posterior in every default run): the text encoder trained too, slowly
    # (at full LR it cost WER 25-32 %, "Fine-tuning quality, the recipe")
    "default-encp-slow": "vits:\n  freeze: [dp, enc_q, dec.conv_pre, dec.ups]\n  lr_mult:\n    enc_p: 0.1\n",
    "default-encp-mid": "vits:\n  freeze: [dp, enc_q, dec.conv_pre, dec.ups]\n  lr_mult:\n    enc_p: 0.3\n",
    # the product's defaults with one speed-up each (docs/BENCHMARKS.md "VITS training step"):
    # bf16 autocast on CPU, and half-length decoder segments; every other setting as `default`
    "default-bf16": "precision: bf16\n",
    "default-seg4096": "vits:\n  segment_size: 4096\n",
    "dec-frozen": BENCH + "vits:\n  freeze: [enc_p, dp, dec]\n",
    "dec": BENCH + "vits:\n  freeze: [enc_p, dp]\n",
    "dec+stft": BENCH + "vits:\n  freeze: [enc_p, dp]\n  c_stft: 45\n",
    "resblocks+stft": BENCH + "vits:\n  freeze: [enc_p, dp, dec.conv_pre, dec.ups]\n  c_stft: 45\n",
    "dec+stft+dwarm": BENCH + "vits:\n  freeze: [enc_p, dp]\n  c_stft: 45\n  disc_warmup_steps: 200\n",
    "dec+comb": BENCH + "vits:\n  freeze: [enc_p, dp]\n  c_comb: 10\n",
    "dec+stft+comb": BENCH + "vits:\n  freeze: [enc_p, dp]\n  c_stft: 45\n  c_comb: 10\n",
    "encq-frozen+dec+comb": BENCH + "vits:\n  freeze: [enc_p, dp, enc_q]\n  c_comb: 10\n",
    # decoder and posterior encoder frozen: only the prior learns z_q (no buzz can be trained into
    # the decoder, and enc_q cannot drift to the 86 Hz attractor of bench/posterior_recon.py)
    "F-flow": BENCH + "vits:\n  freeze: [enc_p, dp, dec, enc_q]\n  prior_warmup_steps: 0\n" + BOOT,
    "F-flow-cos": BENCH + "vits:\n  freeze: [enc_p, dp, dec, enc_q]\n  prior_warmup_steps: 0\n",  # = default bootstrap
    "F-encp-flow": BENCH + "vits:\n  freeze: [dp, dec, enc_q]\n  prior_warmup_steps: 0\n" + BOOT,
    "L-dec-frozen": BENCH + "vits:\n  freeze: [enc_p, dp, dec]\n" + BOOT,
    "L-dec-frozen-encq-frozen": BENCH + "vits:\n  freeze: [enc_p, dp, dec, enc_q]\n" + BOOT,
    "L-res-encq-frozen-dwarm": BENCH + "vits:\n  freeze: [enc_p, dp, enc_q, dec.conv_pre, dec.ups]\n"
                               "  disc_warmup_steps: 300\n" + BOOT + "optimizers:\n  disc:\n    lr: 0.0004\n",
    # the same, with a loss on the output's periodicity (autocorrelation over the pitch lags), whose
    # gradient points at the target's period where a frame-rate pulse peaks at lag 256
    "L-res-encq-frozen-dwarm-per": BENCH + "vits:\n  freeze: [enc_p, dp, enc_q, dec.conv_pre, dec.ups]\n"
                                   "  disc_warmup_steps: 300\n  c_periodicity: 20\n" + BOOT
                                   + "optimizers:\n  disc:\n    lr: 0.0004\n",
    # resblocks + conv_post (and the flow) learn against the fresh discriminator from step 1 with
    # the posterior encoder frozen; the upsamplers, the known source of tonal artefacts at their
    # input rate, stay frozen; a multi-resolution STFT loss, with and without the periodicity loss
    "L-res-encq-frozen-stft": BENCH + "vits:\n  freeze: [enc_p, dp, enc_q, dec.conv_pre, dec.ups]\n"
                              "  c_stft: 45\n" + BOOT,
    "L-res-encq-frozen-stft-per": BENCH + "vits:\n  freeze: [enc_p, dp, enc_q, dec.conv_pre, dec.ups]\n"
                                  "  c_stft: 45\n  c_periodicity: 20\n" + BOOT,
}
MARKS = (5, 10, 20, 30, 45, 60)


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
    import voicetune

    _clock_log(run.parent / f"{name}.clock")
    # keep_top_k 0 keeps *every* checkpoint: any k > 0 keeps only the checkpoints that carry the
    # selection metric (an eval at the same step) plus the best and the last, so a checkpoint saved
    # between evals (`default` derives eval_every from the run's length) was deleted at the next save
    keep = {"keep_top_k": 0}
    overrides = {"max_minutes": minutes, **keep, "log_every": 10}
    if save_every:  # 0: the product's own (a checkpoint at each derived eval, each one listened to)
        overrides["save_every"] = save_every
    if (run / "metrics.jsonl").exists():  # --extend: continue the run for another budget
        # config.yaml (save_every, keep_top_k of the first start) is reused; keep_top_k is given
        # again so that a run started before keep_top_k 0 keeps the checkpoints of its extension
        voicetune.train(resume=run, max_minutes=minutes, overrides=keep, show_progress=False, log=print)
        return
    config = run.parent / f"{name}.yaml"
    config.write_text(CONFIGS[name] or "{}\n")
    if not name.startswith("default"):  # a default-* run keeps the default's derived run length
        overrides.update({"epochs": 100000, "eval_every": save_every})
    voicetune.train(dataset, "joe", run, config=config, overrides=overrides, show_progress=False, log=print)


def checkpoint_times(run: Path, clock: Path) -> list[tuple[float, float, int, Path]]:
    """(CPU minutes, wall minutes of training, step, folder) of every checkpoint still on disk.

    Only the time inside the training segments counts: from a process's "start" or "resume"
    event to its last event. A resumed process spends CPU before its "resume" event (imports,
    features, the base, a bootstrap it may distil again, the step-time probe) and the wall clock
    has a gap between the processes; neither is training time."""
    import numpy as np

    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    wall, cpu = np.loadtxt(clock, ndmin=2).T
    cpu_at = lambda t: float(np.interp(t, wall, cpu))  # noqa: E731
    from voicetune.models.vits.run import read_run_file

    # vits.posterior_adapt trains before the "start" event and counts toward --max-minutes: its
    # seconds (one thread, so wall ~ CPU) are the curve's first minutes
    adapt = read_run_file(run).get("posterior_adapt", {}).get("seconds", 0.0)
    segments: list[list[dict]] = []
    for e in events:
        if e["event"] in ("start", "resume") or not segments:
            segments.append([])
        segments[-1].append(e)
    out, cpu_done, wall_done = [], adapt, adapt
    for seg in segments:
        t0 = seg[0]["time"]
        for e in seg:
            if e["event"] == "checkpoint" and (run / e["path"]).exists():
                out.append(((cpu_done + cpu_at(e["time"]) - cpu_at(t0)) / 60,
                            (wall_done + e["time"] - t0) / 60, e["step"], run / e["path"]))
        cpu_done += cpu_at(seg[-1]["time"]) - cpu_at(t0)
        wall_done += seg[-1]["time"] - t0
    return sorted(out, key=lambda t: t[2])


def warm_bootstrap(names: list[str], dataset: Path) -> None:
    """Each distinct bootstrap the configurations ask for, once, before parallel runs race to make it."""
    import yaml

    from voicetune.models.vits.run import build_backend
    from voicetune.models.vits.training import vits_options

    seen = set()
    for name in names:
        own = yaml.safe_load(CONFIGS[name] or "{}") or {}
        options = vits_options(own, None, name, fresh_discriminator=True, log=lambda *a: None)
        key = json.dumps(options.bootstrap.model_dump(), sort_keys=True)
        if key not in seen:
            seen.add(key)
            build_backend(dataset, "joe", options, log=print)


def spectrogram(dataset: Path, synth, label: str, path: Path, base_audio) -> None:
    from spectrograms import narrowband_png
    from voicetune.audio import load_audio
    from voicetune.data.dataset import load_dataset
    from voicetune.sample_data import sentences

    ds = load_dataset(dataset)
    target = load_audio(dataset / ds.eval[0].audio_file, ds.sample_rate)
    audio, sr = synth(sentences("eval_sentences_en")[0])
    narrowband_png({"target (a real clip)": target, "base (Joe)": base_audio, label: audio}, sr, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="low,high", help=f"comma list of {', '.join(TARGETS)}")
    ap.add_argument("--configs", default="default", help="comma list; --list shows them")
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget per run")
    ap.add_argument("--parallel", action="store_true", help="train two runs side by side (each at 1 thread, always)")
    ap.add_argument("--save-every", type=int, default=40, help="0: the product's own interval (the eval's)")
    ap.add_argument("--marks", default=",".join(map(str, MARKS)), help="CPU minutes at which checkpoints are evaluated")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--extend", action="store_true", help="resume the existing runs for another --minutes")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--train-one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.list:
        for name, text in CONFIGS.items():
            print(f"--- {name}\n{text or '(nothing: the defaults)'}")
        return
    out = args.out.resolve()
    if args.train_one:
        target, name = args.train_one
        train_one(name, build_target(target, out), out / target / "runs" / name, args.minutes, args.save_every)
        return

    from voicetune.evaluation.targets import synthesizer_for
    from voicetune.sample_data import sentences

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS] + [t for t in targets if t not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown: {unknown}; see --list")
    if not args.save_every and any(not n.startswith("default") for n in names):
        raise SystemExit("--save-every 0 (the product's interval) is for default* configs; the levers need one")
    marks = [float(m) for m in args.marks.split(",")]
    base_audio = synthesizer_for("joe")(sentences("eval_sentences_en")[0])[0]
    results_by_target = {}
    for target in targets:
        dataset = build_target(target, out)
        results_path = out / target / "results.json"
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
        if "base" not in results:
            results["base"] = evaluate(synthesizer_for("joe"), dataset, "base (Joe)")
            results["target"] = target_row(results["base"])
            results_path.write_text(json.dumps(results, indent=1))
        results_by_target[target] = (dataset, results, results_path)

    jobs = [(t, n) for t in targets for n in names
            if args.extend or not (out / t / "runs" / n / "metrics.jsonl").exists()]
    if jobs:
        warm_bootstrap(sorted({n for _, n in jobs}), build_target(jobs[0][0], out))
    # one thread per training process, side by side or not: its CPU time is then the time of one
    # idle core (at more threads process_time counts every thread, spinning ones too)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    procs = []
    for target, name in jobs:
        (out / target / "runs").mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, "--out", str(out), "--minutes", str(args.minutes),
               "--save-every", str(args.save_every), "--train-one", target, name]
        log = open(out / target / "runs" / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        if not args.parallel or len(procs) % 2 == 0:  # two 1-thread runs at a time on 2 cores
            for p in procs:
                if p.wait() != 0:
                    raise SystemExit(f"a training run failed (exit {p.returncode}); see its .log")
            procs = []
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a training run failed (exit {p.returncode}); see its .log")

    for target in targets:
        dataset, results, results_path = results_by_target[target]
        rows = results.setdefault("rows", {})
        for name in names:
            times = checkpoint_times(out / target / "runs" / name, out / target / "runs" / f"{name}.clock")
            # the checkpoints nearest to the marks within the run, and always the last one
            picked = [min(times, key=lambda t: abs(t[0] - mark)) for mark in marks
                      if times and mark <= times[-1][0] + 1.0] + times[-1:]
            chosen = run_pick(out / target / "runs" / name)  # what `voicetune export RUN` would take
            picked += [t for t in times if chosen and t[2] == chosen[0]]
            for minutes, wall, step, folder in sorted(set(picked), key=lambda t: t[2]):
                key = f"{name}@{step}"
                if key not in rows:
                    synth = synthesizer_for(folder)
                    row = evaluate(synth, dataset, key)
                    rows[key] = {**row, "config": name, "minutes": minutes, "wall_minutes": wall, "step": step}
                    spectrogram(dataset, synth, key, out / target / "spectrograms" / f"{name}-{step:05d}.png", base_audio)
                else:  # evaluated before (an extended run's earlier part): its minutes as mapped now
                    rows[key].update(minutes=minutes, wall_minutes=wall)
                rows[key]["run_pick"] = f"best by {chosen[1]}" if chosen and chosen[0] == step else ""
                results_path.write_text(json.dumps(results, indent=1))
                r = rows[key]
                print(f"{target} {name:16s} {r['minutes']:5.1f} min step {step:5d}: sim {r['similarity']:.3f} "
                      f"wer {r['wer']:.3f} f0 {r['median_f0']:.0f} lock {r['lock']:.3f} comb {r['comb']:+.1f}", flush=True)
        print(f"\n### target: {target}")
        print_table(results)


def run_pick(run: Path) -> tuple[int, str] | None:
    """(step, metric) of the checkpoint the run itself picked as best (best.json), if any."""
    path = run / "best.json"
    if not path.exists():
        return None
    best = json.loads(path.read_text())
    return int(best["step"]), str(best["metric"])


def print_table(results: dict) -> None:
    base, target = results["base"], results["target"]
    print("\n| config | CPU min | step | similarity | WER | median F0 | 86 Hz lock | comb | goals met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in (target, base):
        print(f"| {r['who']} | – | – | {r['similarity']:.3f} | {r['wer']:.1%} | {r['median_f0']:.0f} Hz | "
              f"{r['lock']:.1%} | {r['comb']:+.1f} dB | – |")
    for r in sorted(results.get("rows", {}).values(), key=lambda r: (r["config"], r["step"])):
        met = goals(r, base, target)
        missed = ", ".join(k for k, v in met.items() if not v)
        pick = f" ({r['run_pick']})" if r.get("run_pick") else ""
        print(f"| {r['config']}{pick} | {r['minutes']:.1f} | {r['step']} | {r['similarity']:.3f} | {r['wer']:.1%} | "
              f"{r['median_f0']:.0f} Hz | {r['lock']:.1%} | {r['comb']:+.1f} dB | {sum(met.values())}/{len(met)}"
              f"{' (missed: ' + missed + ')' if missed else ''} |")


if __name__ == "__main__":
    main()
