"""Is the fine-tune's mel loss computed on piper1-gpl's own spectrogram? Our log-mel
(voicetune.models.vits.mel, librosa's filterbank) against piper's training code
(piper.train.vits.mel_processing.mel_spectrogram_torch) on real speech: Joe reading the built-in
evaluation sentences, at Piper's medium settings (22.05 kHz, FFT 1024, hop 256, 80 mels).

    .venv/bin/python bench/mel_parity.py
"""

from __future__ import annotations

import numpy as np
import torch


def main() -> None:
    from piper.train.vits.mel_processing import mel_spectrogram_torch

    from voicetune.models.vits.mel import mel_spectrogram
    from voicetune.sample_data import sentences, synth_piper

    clips, sr = synth_piper(sentences("eval_sentences_en")[:5])
    worst, frames = 0.0, 0
    for clip in clips:
        y = torch.from_numpy(np.asarray(clip, dtype=np.float32))[None]
        ours = mel_spectrogram(y, 1024, 80, sr, 256, 1024, 0.0, None)
        piper = mel_spectrogram_torch(y, 1024, 80, sr, 256, 1024, 0.0, None)
        assert ours.shape == piper.shape
        worst = max(worst, float((ours - piper).abs().max()))
        frames += ours.shape[-1]
    print(f"{len(clips)} clips, {frames} frames at {sr} Hz: max |ours - piper| of the log-mel = {worst:.2e}")


if __name__ == "__main__":
    main()
