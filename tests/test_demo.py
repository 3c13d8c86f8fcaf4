"""The demo in quick mode: every stage runs offline and the files it promises exist and work."""

from __future__ import annotations

import soundfile as sf


def test_quick_demo_end_to_end(tmp_path, monkeypatch):
    from piper import PiperVoice

    from voicetune.demo import run_demo

    monkeypatch.setenv("VOICETUNE_CACHE", str(tmp_path / "cache"))
    r = run_demo(tmp_path / "demo", quick=True, log=lambda *a: None)
    assert [row["who"] for row in r.table] == ["base (Joe)", "fine-tuned", "target itself"]
    base, tuned, target = r.table
    # the target is measurably another speaker: Joe is far from it, the target close to itself
    assert base["similarity"] < target["similarity"] - 0.1
    assert base["median_f0"] > 1.1 * target["median_f0"]
    assert r.transcript_wer < 0.1 and r.clips >= 4
    assert "quick mode" in r.verdict
    voice = PiperVoice.load(str(r.voice / "demo-voice.onnx"))
    assert voice.config.sample_rate == 22050
    audio, sr = sf.read(r.spoken, dtype="float32")
    from voicetune.audio import resample
    from voicetune.data.transcribe import load_asr, transcribe_clip
    from voicetune.metrics import wer

    heard, _ = transcribe_clip(load_asr(None)[0], resample(audio, sr, 16000), language="en", beam_size=5)
    assert sr == 22050 and wer("Hello! This voice was fine-tuned on this computer, offline.", heard) <= 0.25, heard
    # the fine-tuned checkpoint's scores reach the card (no second evaluation at export)
    card = (r.voice / "MODEL_CARD.md").read_text()
    assert f"{tuned['similarity']:.3f}" in card and "★" in card
    assert (r.voice / "report.html").stat().st_size > 10_000
