"""Does the re-learned posterior encoder keep the pitch? dec(m_q(spec)) of real clips, per bootstrap variant.

Everything trained toward the posterior latent z_q (the flow at inference, the decoder) inherits
what the posterior path does to a recording, and a held-out mel-L1 cannot see the pitch. So for
each bootstrap variant (Joe from ONNX, enc_q distilled from scratch) this prints, for Joe's own
held-out speech (the model's noisy synthesis of the 20 evaluation sentences) and for the clips of
each quality target (bench/quality_targets.py) exactly as training reads them (dataset wavs):
median F0 (harvest) of the input and of its reconstruction through the frozen Joe decoder, the
86 Hz lock share and the frame-rate comb of both, and the mel-L1.

    .venv/bin/python bench/posterior_recon.py --variants default,long,gain,recon [--clips 16]

Variants are BootstrapOptions (``voicetune.models.vits.bootstrap``); CPU seconds are the
distillation's own process time (all threads), without the base's speech, which is synthesized once
and shared. Results accumulate in bench-out/posterior-recon.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from quality_targets import build_target  # noqa: E402

# the bootstrap's defaults before 2026-12-02 (300 steps, 5e-4 constant): what the first variants
# changed one thing of; the results in bench-out/posterior-recon.json were measured against them
FORMER = {"enc_q_steps": 300, "lr": 5e-4, "lr_schedule": "constant"}
VARIANTS = {
    "default": FORMER,
    "long": {**FORMER, "enc_q_steps": 1800},
    "gain": {**FORMER, "gain_db": 6.0},
    "recon": {**FORMER, "recon_weight": 1.0},
    "long-3000": {**FORMER, "enc_q_steps": 3000},
    "recon-comb": {**FORMER, "recon_weight": 1.0, "recon_comb_weight": 1.0},
    "recon-period": {**FORMER, "recon_weight": 1.0, "recon_periodicity_weight": 5.0},
    "cosine-900": {"enc_q_steps": 900, "lr": 1e-3, "lr_schedule": "cosine"},  # the default now
    "cosine-1800": {"enc_q_steps": 1800, "lr": 1e-3, "lr_schedule": "cosine"},
}


def joe_model():
    from voicetune.models.vits.import_piper import import_piper
    from voicetune.sample_data import joe_voice_path
    from voicetune.text.phonemize import Phonemizer

    imported = import_piper(joe_voice_path())
    return imported.model.apply_weight_norm(), Phonemizer(imported.voice)


@torch.no_grad()
def reconstruct(model, audio: np.ndarray) -> np.ndarray:
    from voicetune.models.vits.mel import spectrogram

    c = model.config
    y = torch.from_numpy(audio[: len(audio) // c.hop_length * c.hop_length]).float().unsqueeze(0)
    spec = spectrogram(y, c.filter_length, c.hop_length, c.win_length)
    _, m_q, _, mask = model.enc_q(spec, torch.tensor([spec.shape[-1]]))
    return model.dec(m_q * mask)[0, 0].numpy()


def measure(model, clips: list[np.ndarray], sr: int) -> dict:
    from voicetune.evaluation import speaker
    from voicetune.evaluation.pitch import analyze_pitch, frame_rate_comb
    from voicetune.models.vits.mel import mel_spectrogram

    c = model.config
    rate = sr / c.hop_length
    recon = [reconstruct(model, x) for x in clips]
    inp, out = analyze_pitch(clips, sr, rate), analyze_pitch(recon, sr, rate)
    mel = lambda a: mel_spectrogram(torch.from_numpy(a).float().unsqueeze(0), c.filter_length, c.mel_channels,  # noqa: E731
                                    sr, c.hop_length, c.win_length)
    l1 = float(np.mean([torch.nn.functional.l1_loss(mel(r[: len(x)]), mel(x[: len(r)])).item()
                        for x, r in zip(clips, recon, strict=True)]))
    center = speaker.centroid(speaker.embed_many(clips, sr))
    sim = speaker.similarity_to(speaker.embed_many(recon, sr), center)
    return {"similarity": sim, "f0_in": inp.median_f0, "f0_out": out.median_f0, "lock_in": inp.lock_share, "lock_out": out.lock_share,
            "comb_in": frame_rate_comb(clips, sr, rate), "comb_out": frame_rate_comb(recon, sr, rate), "mel_l1": l1}


def material(n_clips: int) -> dict[str, tuple[list[np.ndarray], int]]:
    """Joe's held-out noisy synthesis and each target's dataset clips (eval split first)."""
    from voicetune.audio import load_audio
    from voicetune.data.dataset import load_dataset
    from voicetune.sample_data import sentences
    from voicetune.synth import load_voice, say

    voice = load_voice("joe", backend="onnx", onnx_seed=0)
    joe = [say(t, voice)[0] for t in sentences("eval_sentences_en")[:n_clips]]
    out = {"Joe (held out)": (joe, voice.sample_rate)}
    for name in ("low", "high"):
        root = build_target(name)
        ds = load_dataset(root)
        clips = (ds.eval + ds.train)[:n_clips]
        out[f"{name} target"] = ([load_audio(root / c.audio_file, ds.sample_rate) for c in clips], ds.sample_rate)
    return out


def cached_base_speech(model, phonemizer, path: Path) -> list[dict]:
    """The base's distillation speech, synthesized once per machine (it is deterministic, seed 0)."""
    from voicetune.models.vits.bootstrap import base_speech, distillation_texts

    if path.exists():
        return torch.load(path, weights_only=True)
    items = base_speech(model, phonemizer, distillation_texts())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(items, path)
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="default,recon")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--out", type=Path, default=Path("bench-out/posterior-recon.json"))
    args = ap.parse_args()
    from voicetune.models.vits.bootstrap import BootstrapOptions, bootstrap, distillation_texts

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    clips = material(args.clips)
    items = None  # the base's speech is the same for every variant: synthesized once
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if name in results:
            continue
        model, phonemizer = joe_model()
        opts = BootstrapOptions(**VARIANTS[name])
        if items is None:
            items = cached_base_speech(model, phonemizer, args.out.parent / "base-speech.pt")
        t0 = time.process_time()
        report = bootstrap(model, phonemizer, distillation_texts(), opts, items=items)
        row = {"options": opts.model_dump(), "cpu_seconds": time.process_time() - t0,
               "held_out_mel_l1": report.mel_l1_after, "sets": {}}
        for what, (audio, sr) in clips.items():
            row["sets"][what] = measure(model, audio, sr)
        results[name] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(f"{name}: {row['cpu_seconds']:.0f} CPU s, held-out mel-L1 {report.mel_l1_after:.3f}", flush=True)
    print_table(results)


def print_table(results: dict) -> None:
    print("\n| bootstrap | CPU s | speech | F0 in -> out | 86 Hz lock in -> out | comb in -> out | mel-L1 | "
          "similarity to the input |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in results.items():
        for what, m in row["sets"].items():
            print(f"| {name} | {row['cpu_seconds']:.0f} | {what} | {m['f0_in']:.0f} -> {m['f0_out']:.0f} Hz | "
                  f"{m['lock_in']:.1%} -> {m['lock_out']:.1%} | {m['comb_in']:+.1f} -> {m['comb_out']:+.1f} dB | "
                  f"{m['mel_l1']:.3f} | {m['similarity']:.3f} |")


if __name__ == "__main__":
    main()
