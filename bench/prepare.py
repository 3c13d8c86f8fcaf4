"""Benchmark: `prepare` on a ~10-minute synthesized recording (Joe voice, tiny.en default).

Prints the real-time factor of the whole prepare (model loading included) and the transcript WER
against the known text. The timing baseline, measured in the same run on the same file, is one
plain faster-whisper call over the whole recording (no VAD, no cutting, no checks): the ratio
prepare/baseline says what the pipeline adds around ASR, independent of how busy the machine is.

    .venv/bin/python bench/prepare.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import soundfile as sf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()

    from voicetune.audio import load_audio
    from voicetune.data.build import prepare
    from voicetune.data.dataset import load_dataset
    from voicetune.data.transcribe import load_asr
    from voicetune.metrics import wer
    from voicetune.sample_data import generated_sentences, make_recording, sentences, synth_piper

    n = int(args.minutes * 60 / 3.6)
    texts = (sentences() + generated_sentences(max(0, n - len(sentences()))))[:n]
    clips, sr = synth_piper(texts)
    audio, timeline = make_recording(clips, texts, sr, pauses=(0.35, 1.2), seed=0)
    minutes = len(audio) / sr / 60
    tmp = Path(tempfile.mkdtemp())
    try:
        src = tmp / "session.flac"
        sf.write(src, audio, sr)

        t0 = time.perf_counter()
        result = prepare([src], tmp / "ds")
        t_prepare = time.perf_counter() - t0
        ds = load_dataset(tmp / "ds")
        hyp = " ".join(c.text for c in sorted(ds.clips, key=lambda c: c.start))
        quarantined = sorted(ds.quarantine, key=lambda q: q.start or 0)

        model, _ = load_asr(None)
        a16 = load_audio(src, 16000)
        t0 = time.perf_counter()
        segments, _ = model.transcribe(a16, language="en", beam_size=5, vad_filter=False)
        plain = " ".join(s.text for s in segments)
        t_plain = time.perf_counter() - t0

        truth = " ".join(s.text for s in timeline)
        print(f"recording: {minutes:.1f} min, {len(texts)} sentences")
        print(f"prepare: {t_prepare:.1f} s = {minutes * 60 / t_prepare:.1f}x real time; {len(ds.clips)} clips, "
              f"{len(quarantined)} quarantined; WER {100 * wer(truth, hyp):.2f}%")
        print(f"baseline (one plain faster-whisper call): {t_plain:.1f} s = {minutes * 60 / t_plain:.1f}x real time; "
              f"WER {100 * wer(truth, plain):.2f}%")
        print(f"ratio prepare/baseline time: {t_prepare / t_plain:.2f}")
        for q in quarantined:
            print(f"  quarantined: {q.reason} | {q.text}")
        assert result.added == len(ds.clips)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
