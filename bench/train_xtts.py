"""Benchmark: an XTTS v2 GPT training step, ours (engine + XttsBackend) vs coqui-tts's GPTTrainer.

Same run, same random base (``--size tiny``: 2 layers x 128 dims; ``--size full``: the release
architecture, 30 layers x 1024 dims, ~441 M GPT weights), same Joe clips, same batch, AdamW,
whole GPT trainable in both (plus ours with its defaults: conditioning encoder frozen). Each
variant runs in its own process so peak RSS is its own.

coqui's step is GPTTrainer.format_batch_on_device + train_step + backward + clip + AdamW step on
its own DataLoader (the part of coqui's Trainer loop that does the work; its logging is left out,
which only flatters coqui). Ours is `voicetune.trainer.engine.fit` with the XTTS backend, timed
from the engine's own per-step log.

    nice -n 19 .venv/bin/python bench/train_xtts.py --size tiny [--steps 8] [--batch 2]
    nice -n 19 .venv/bin/python bench/train_xtts.py --size full --steps 3    # ~10 GB, minutes

Prints samples/s (after warm-up), peak RSS per variant and the speed-up over coqui.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
VARIANTS = ("coqui", "ours-same", "ours-default")


def make_dataset(root: Path, n: int = 16) -> Path:
    """Joe reading n sentences (~3-5 s each), in voicetune's dataset format (2 eval clips)."""
    from voicetune.audio import write_wav
    from voicetune.data.dataset import Clip, Dataset, save_dataset
    from voicetune.sample_data import generated_sentences, synth_piper

    texts = [t for t in generated_sentences(4 * n, 11) if len(t) < 70][:n]  # fit the tiny base (5.5 s)
    clips, sr = synth_piper(texts)
    ds = Dataset(sample_rate=sr, language="en")
    for i, (audio, text) in enumerate(zip(clips, texts, strict=True)):
        write_wav(root / "wavs" / f"c{i:03d}.wav", audio, sr)
        ds.clips.append(Clip(id=f"c{i:03d}", source="", start=0, end=len(audio) / sr, duration=len(audio) / sr,
                             text=text, split="eval" if i >= n - 2 else "train", speaker="joe"))
    save_dataset(ds, root)
    return root


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_ours(base: Path, dataset: Path, work: Path, batch: int, steps: int, warmup: int, default: bool) -> dict:
    from voicetune.models.xtts.finetune import XttsTrainOptions
    from voicetune.models.xtts.run import build_backend
    from voicetune.trainer.config import TrainConfig
    from voicetune.trainer.engine import fit

    opts = XttsTrainOptions() if default else XttsTrainOptions(freeze_conditioning=False)
    run = work / ("run-default" if default else "run-same")
    shutil.rmtree(run, ignore_errors=True)
    backend, _ = build_backend(dataset, base, opts, run, log=lambda *a: None)
    t, n = backend.trainable()
    total = warmup + steps
    cfg = TrainConfig(max_steps=total, epochs=None, batch_size=batch, log_every=1, eval_every=10_000,
                      gradient_checkpointing=opts.gradient_checkpointing,  # the XTTS default, as users get it
                      save_every=10_000, device="cpu", seed=0, clip_norm=1.0,
                      optimizer={"lr": 5e-6, "betas": (0.9, 0.96), "eps": 1e-8, "weight_decay": 1e-2},
                      early_stop={"enabled": False}, overfit={"enabled": False})
    fit(backend, cfg, run, show_progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    elapsed = {r["step"]: r["elapsed"] for r in rows if r["event"] == "train"}
    seconds = elapsed[total] - elapsed[warmup]
    return {"samples_per_s": batch * steps / seconds, "s_per_step": seconds / steps, "trainable": t, "total": n}


def run_coqui(base: Path, dataset: Path, batch: int, steps: int, warmup: int) -> dict:
    import torch

    from voicetune.data.dataset import load_dataset
    from voicetune.models.xtts.compat import import_coqui, keep_threads

    import_coqui()
    with keep_threads():  # coqui's XTTS dataset module sets torch.set_num_threads(1) on import
        from TTS.tts.configs.xtts_config import XttsAudioConfig
        from TTS.tts.layers.xtts.trainer.gpt_trainer import GPTArgs, GPTTrainer, GPTTrainerConfig
    cfg_json = json.loads((base / "config.json").read_text())["model_args"]
    fields = set(GPTArgs.__dataclass_fields__)
    args = GPTArgs(**{k: v for k, v in cfg_json.items() if k in fields and not k.endswith(("_checkpoint", "_file"))})
    args.xtts_checkpoint, args.tokenizer_file = str(base / "model.pth"), str(base / "vocab.json")
    args.dvae_checkpoint, args.mel_norm_file = str(base / "dvae.pth"), str(base / "mel_stats.pth")
    args.gpt_use_masking_gt_prompt_approach = args.gpt_use_perceiver_resampler = True
    config = GPTTrainerConfig(model_args=args, audio=XttsAudioConfig(sample_rate=22050, dvae_sample_rate=22050,
                                                                    output_sample_rate=24000),
                              batch_size=batch, eval_batch_size=batch, num_loader_workers=0, optimizer="AdamW",
                              optimizer_params={"betas": [0.9, 0.96], "eps": 1e-8, "weight_decay": 1e-2}, lr=5e-6)
    with keep_threads():
        model = GPTTrainer(config)
    ds = load_dataset(dataset)
    samples = [{"text": c.text, "audio_file": str(dataset / c.audio_file), "speaker_name": c.speaker,
                "language": "en", "root_path": str(dataset)} for c in ds.train]
    loader = model.get_data_loader(config, is_eval=False, samples=samples, verbose=False)
    opt = model.get_optimizer()
    trainable = sum(p.numel() for p in model.xtts.gpt.parameters())
    model.train()
    model.on_train_epoch_start(type("T", (), {"model": model})())
    done, t0 = 0, None
    while done < warmup + steps:
        for batch_ in loader:
            if done == warmup:
                t0 = time.monotonic()
            batch_ = model.format_batch_on_device(model.format_batch(batch_))
            _, loss = model.train_step(batch_, None)
            loss["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.xtts.gpt.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            done += 1
            if done == warmup + steps:
                break
    seconds = time.monotonic() - t0
    return {"samples_per_s": batch * steps / seconds, "s_per_step": seconds / steps, "trainable": trainable,
            "total": trainable}


def child(a) -> None:
    import torch

    torch.set_num_threads(a.threads)
    work = Path(a.work)
    if a.variant == "coqui":
        out = run_coqui(work / "base", work / "data", a.batch, a.steps, a.warmup)
    else:
        out = run_ours(work / "base", work / "data", work, a.batch, a.steps, a.warmup, a.variant == "ours-default")
    out["peak_rss_gb"] = peak_rss_gb()
    print("RESULT " + json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=("tiny", "full"), default="tiny")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="timed steps (tiny 12, full 3)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--work", default=None, help="keep the base/dataset here (default: a temp folder)")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    a = p.parse_args()
    a.steps = a.steps or (12 if a.size == "tiny" else 3)
    if a.variant:
        return child(a)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="bench-xtts-"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    if not (work / "base" / "model.pth").exists():
        from voicetune.models.xtts.random_base import make_random_base

        make_random_base(work / "base", a.size)
    if not (work / "data" / "dataset.json").exists():
        make_dataset(work / "data")
    print(f"# XTTS GPT step, size {a.size}, batch {a.batch}, {a.threads} threads, {a.steps} timed steps "
          f"after {a.warmup} (setup {time.monotonic() - t:.0f} s)")
    results = {}
    for v in a.variants.split(","):
        cmd = [sys.executable, str(HERE), "--variant", v, "--work", str(work), "--size", a.size, "--batch",
               str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{v}: failed\n{proc.stderr[-2000:]}")
            continue
        results[v] = json.loads(line[7:])
    base = results.get("coqui", {}).get("samples_per_s")
    print("| variant | trainable / total GPT | s/step | samples/s | vs coqui | peak RSS |")
    print("|---|---|---|---|---|---|")
    for v, r in results.items():
        speed = f"{r['samples_per_s'] / base:.2f}x" if base else "-"
        print(f"| {v} | {r['trainable'] / 1e6:.1f} M / {r['total'] / 1e6:.1f} M | {r['s_per_step']:.3f} | "
              f"{r['samples_per_s']:.2f} | {speed} | {r['peak_rss_gb']:.2f} GB |")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
