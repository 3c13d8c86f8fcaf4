"""Where on the way to the audio is the target's pitch lost? Median F0 of three decodings per checkpoint.

For the base (Joe from ONNX, its posterior encoder from the cached bootstrap) and each checkpoint
of a bench run (bench/finetune_quality.py), on a quality target's clips exactly as training reads
them (dataset wavs and texts):

- ``posterior``: dec(m_q(spec)), what the decoder is trained on (the posterior mean);
- ``prior, aligned``: dec(flow^-1(m_p)) at the MAS alignment's durations, noise 0: the latent
  inference gives the decoder, with the clip's own timing;
- ``inference``: the model speaking the clip's text (noise 0.667 / 0.8, as evaluation speaks).

If the first reaches the target's pitch and the others do not, the decoder has learned it and the
prior/flow has not; if the first does not, the decoder (or enc_q's latent) is where it is lost.

    .venv/bin/python bench/pitch_path.py --target high --run bench-out/targets/high/runs/default [--clips 12]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from quality_targets import build_target  # noqa: E402

WAYS = ("posterior", "prior, aligned", "inference")


@torch.no_grad()
def decodings(model, phonemizer, audio: np.ndarray, text: str) -> dict[str, np.ndarray]:
    from voicetune.models.vits.mel import spectrogram

    c = model.config
    y = torch.from_numpy(audio[: len(audio) // c.hop_length * c.hop_length]).float().unsqueeze(0)
    spec = spectrogram(y, c.filter_length, c.hop_length, c.win_length)
    ids = torch.tensor([[i for s in phonemizer.text_to_ids(text) for i in s]])
    x_len, y_len = torch.tensor([ids.shape[1]]), torch.tensor([spec.shape[-1]])
    out = model(ids, x_len, spec, y_len, decode=False)
    z = model.flow(out.m_p * out.y_mask, out.y_mask, reverse=True)
    torch.manual_seed(0)
    spoken = model.infer(ids, x_len, noise_scale=0.667, noise_scale_w=0.8)
    return {"posterior": model.dec(out.m_q * out.y_mask)[0, 0].numpy(),
            "prior, aligned": model.dec(z * out.y_mask)[0, 0].numpy(),
            "inference": spoken.audio[0, 0].numpy()}


def measure(model, phonemizer, clips, sr: int) -> dict[str, dict[str, float]]:
    from voicetune.evaluation.pitch import analyze_pitch, frame_rate_comb

    rate = sr / model.config.hop_length
    outs = {w: [] for w in WAYS}
    for audio, text in clips:
        for w, a in decodings(model, phonemizer, audio, text).items():
            outs[w].append(a)
    res = {}
    for w, audios in outs.items():
        p = analyze_pitch(audios, sr, rate)
        res[w] = {"f0": p.median_f0, "lock": p.lock_share, "comb": frame_rate_comb(audios, sr, rate)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="high")
    ap.add_argument("--run", type=Path, required=True, help="a bench run folder (its checkpoints are measured)")
    ap.add_argument("--clips", type=int, default=12)
    args = ap.parse_args()
    from voicetune.audio import load_audio
    from voicetune.data.dataset import load_dataset
    from voicetune.evaluation.pitch import analyze_pitch
    from voicetune.models.vits.run import build_backend, load_run_model
    from voicetune.models.vits.training import vits_options

    torch.set_num_threads(1)
    root = build_target(args.target)
    ds = load_dataset(root)
    rows = (ds.eval + ds.train)[: args.clips]
    clips = [(load_audio(root / r.audio_file, ds.sample_rate), r.text) for r in rows]
    sr = ds.sample_rate
    source = analyze_pitch([a for a, _ in clips], sr, sr / 256).median_f0
    options = vits_options({}, None, "default", fresh_discriminator=True, log=lambda *a: None)
    backend, _ = build_backend(root, "joe", options, log=lambda *a: None)
    models = {"base": backend.model.eval()}
    for ckpt in sorted((args.run / "checkpoints").glob("step-*")):
        models[f"{args.run.name}@{int(ckpt.name.split('-')[1])}"] = ckpt
    results = {"target": args.target, "clips": len(clips), "f0_in": source, "rows": {}}
    print(f"{args.target} target, {len(clips)} clips: median F0 {source:.0f} Hz")
    print("| model | " + " | ".join(f"{w}: F0, lock, comb" for w in WAYS) + " |")
    print("|---|" + "---|" * len(WAYS))
    for name, model in models.items():
        if isinstance(model, Path):
            model = load_run_model(model)[0]
        res = measure(model, backend.phonemizer, clips, sr)
        results["rows"][name] = res
        print(f"| {name} | " + " | ".join(f"{res[w]['f0']:.0f} Hz, {res[w]['lock']:.0%}, {res[w]['comb']:+.1f} dB"
                                          for w in WAYS) + " |", flush=True)
    out = Path("bench-out") / f"pitch-path-{args.target}-{args.run.name}.json"
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
