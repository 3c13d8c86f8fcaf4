"""Benchmark: the posterior-encoder bootstrap of an ONNX-only Piper base (Joe), default settings.

Prints wall time and the held-out figures (mel-L1 of dec(m_q) vs the audio; duration NLL of the
SDP's training half) before and after. Baseline for the timing, same run: piper-tts speaking the
same distillation sentences with the original ONNX (the cheapest way to get that much base audio).

    .venv/bin/python bench/bootstrap.py [--steps 300] [--sdp-steps 150] [--sentences N]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--sdp-steps", type=int, default=150)
    ap.add_argument("--sentences", type=int, default=None)
    args = ap.parse_args()

    from voicetune.models.vits.bootstrap import BootstrapOptions, bootstrap, distillation_texts
    from voicetune.models.vits.import_piper import import_piper
    from voicetune.sample_data import joe_voice_path, synth_piper
    from voicetune.text.phonemize import Phonemizer

    texts = distillation_texts()[: args.sentences]
    t0 = time.perf_counter()
    synth_piper(texts)
    t_piper = time.perf_counter() - t0

    imported = import_piper(joe_voice_path())
    model = imported.model.apply_weight_norm()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    opts = BootstrapOptions(enc_q_steps=args.steps, sdp_steps=args.sdp_steps)
    report = bootstrap(model, Phonemizer(imported.voice), texts, opts)
    total = time.perf_counter() - t0
    print(f"{len(texts)} sentences; torch threads {torch.get_num_threads()}")
    for line in report.lines():
        print(line)
    print(f"bootstrap {total:.0f} s; baseline (piper-tts speaking the same sentences) {t_piper:.0f} s; "
          f"ratio {total / t_piper:.1f}")


if __name__ == "__main__":
    main()
