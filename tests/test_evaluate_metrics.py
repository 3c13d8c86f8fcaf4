"""Evaluation measures on constructed signals: F0 and the frame-rate lock, silence, clipping, rate,
the sentence list, eval.jsonl rows and target resolution. Fast: no voices, no Whisper."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from voicetune.errors import VoicetuneError
from voicetune.evaluation import append_eval_row, load_sentences, synthesizer_for
from voicetune.evaluation.metrics import (
    analyze_pitch,
    clipping_share,
    end_silences,
    frame_rate,
    lock_mask,
    phoneme_count,
    speech_seconds,
)

SR, HOP = 22050, 256
RATE = SR / HOP  # 86.13 Hz


def formants(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """Colour a source with three vowel-like resonances so it looks like a voiced sound, not a test tone."""
    for f, bw in ((500, 80), (1500, 120), (2500, 200)):
        r, th = math.exp(-math.pi * bw / sr), 2 * math.pi * f / sr
        x = lfilter([1 - r], [1, -2 * r * math.cos(th), r * r], x)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def buzz(seconds: float = 2.0, period: int = HOP, sr: int = SR) -> np.ndarray:
    """What a decoder trained on mel L1 alone emits: one pulse per hop of samples."""
    x = np.zeros(int(seconds * sr))
    x[::period] = 1.0
    return formants(x, sr)


def harmonic_tone(f0: float, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return formants(sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12)), sr)


def test_buzz_at_the_frame_rate_locks():
    stats = analyze_pitch([buzz()], SR, frame_rate(SR, HOP))
    assert stats.median_f0 == pytest.approx(RATE, rel=0.01)
    assert stats.voiced_frames > 300
    assert stats.lock_share > 0.95


def test_buzz_of_a_16k_voice_locks_at_its_own_frame_rate():
    rate16 = frame_rate(16000, HOP)  # 62.5 Hz
    stats = analyze_pitch([buzz(sr=16000)], 16000, rate16)
    assert stats.median_f0 == pytest.approx(62.5, rel=0.01) and stats.lock_share > 0.95
    assert analyze_pitch([buzz(sr=16000)], 16000, RATE).lock_share == 0.0  # not at 22.05 kHz's rate


@pytest.mark.parametrize("f0", [120.0, 140.0, 2 * RATE, 220.0])
def test_f0_median_of_tones_and_no_lock_off_the_band(f0):
    """Median F0 within 1 %; nothing locks, not even at 2 x the frame rate (normal male pitch)."""
    stats = analyze_pitch([harmonic_tone(f0)], SR, RATE)
    assert stats.median_f0 == pytest.approx(f0, rel=0.01)
    assert stats.lock_share == 0.0


def test_lock_band_is_plus_minus_3_percent():
    f0 = np.array([0.0, RATE, RATE * 1.029, RATE * 0.971, RATE * 1.032, RATE * 0.968, 60.0])
    assert lock_mask(f0, RATE).tolist() == [False, True, True, True, False, False, False]
    # a buzz just off the band (a 248-sample period = 88.9 Hz, +3.2 %) is not called a lock
    assert analyze_pitch([buzz(period=248)], SR, RATE).lock_share < 0.05


def vibrato_voice(f0: float, seconds: float = 3.0, sr: int = SR, depth: float = 0.08, rate_hz: float = 4.0) -> np.ndarray:
    """A voiced sound whose pitch moves (+-8 % at 4 Hz), as speech does."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + depth * np.sin(2 * np.pi * rate_hz * t))) / sr
    return formants(sum(np.sin(k * phase) / k for k in range(1, 20)), sr)


def test_frame_rate_comb_sees_a_buzz_whatever_its_pitch():
    from voicetune.evaluation.pitch import frame_rate_comb

    buzz_db = frame_rate_comb([buzz(3.0)], SR, RATE)
    moving = {f0: frame_rate_comb([vibrato_voice(f0)], SR, RATE) for f0 in (RATE, 120.0, 180.0)}
    assert buzz_db > 15, buzz_db
    # a voice whose pitch moves, even centred on the frame rate itself, leaves no steady lines there
    assert all(v < 2 for v in moving.values()), moving
    # half buzz, half moving speech: still clearly above the clean level
    mixed = frame_rate_comb([np.concatenate([buzz(1.5), vibrato_voice(180.0, 1.5)])], SR, RATE)
    assert mixed > max(moving.values()) + 5, mixed
    # the rate is the voice's own: a 16 kHz buzz has its lines at 62.5 Hz, not at 86 Hz
    assert frame_rate_comb([buzz(3.0, sr=16000)], 16000, 62.5) > 15
    assert frame_rate_comb([np.zeros(SR)], SR, RATE) == 0.0


def test_silence_speech_and_clipping():
    tone = harmonic_tone(150.0, 1.0)
    gap = np.zeros(int(0.5 * SR), np.float32)
    short = np.zeros(int(0.1 * SR), np.float32)
    x = np.concatenate([np.zeros(int(0.3 * SR), np.float32), tone, gap, tone, short, tone, np.zeros(int(0.2 * SR), np.float32)])
    lead, trail = end_silences(x, SR)
    assert lead == pytest.approx(0.3, abs=0.02) and trail == pytest.approx(0.2, abs=0.02)
    # the 0.5 s pause is cut out, the 0.1 s one (like a stop closure) stays
    assert speech_seconds(x, SR) == pytest.approx(3.1, abs=0.03)
    assert end_silences(np.zeros(SR, np.float32), SR) == (1.0, 0.0)
    assert clipping_share(tone) < 0.001
    assert clipping_share(np.clip(4 * tone, -1, 1)) > 0.1


def test_phoneme_count_is_espeak_phonemes():
    n = phoneme_count("The quick brown dog jumped over a lazy fox.")
    assert 30 <= n <= 40  # letters would be 34 too, but "quick" is 4 phonemes, not 5 letters
    assert phoneme_count("cat") == 3
    assert phoneme_count("", "en") == 0


def test_sentences_builtin_and_file(tmp_path):
    builtin = load_sentences()
    assert len(builtin) == 20 and not any(s.startswith("#") for s in builtin)
    f = tmp_path / "s.txt"
    f.write_text("# mine\nFirst one.\n\n  Second one.  \n", encoding="utf-8")
    assert load_sentences(f) == ["First one.", "Second one."]
    f.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(VoicetuneError, match="no sentences"):
        load_sentences(f)
    with pytest.raises(VoicetuneError, match="not found"):
        load_sentences(tmp_path / "missing.txt")


def test_eval_rows_append_and_read_back(tmp_path):
    from voicetune.trainer.checkpoints import eval_rows

    append_eval_row(tmp_path, {"step": 10, "checkpoint": "checkpoints/step-000010", "similarity": np.float32(0.8),
                               "rtf": float("inf"), "wer": float("nan")})
    append_eval_row(tmp_path, {"step": 20, "checkpoint": "checkpoints/step-000020", "similarity": 0.9})
    lines = (tmp_path / "eval.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])  # strict JSON: no NaN/Infinity tokens
    assert first["rtf"] is None and first["wer"] is None and first["similarity"] == pytest.approx(0.8)
    rows = eval_rows(tmp_path)
    assert sorted(rows) == [10, 20] and rows[20]["similarity"] == 0.9


def test_targets_that_cannot_speak(tmp_path):
    with pytest.raises(VoicetuneError, match="not found"):
        synthesizer_for(tmp_path / "nope.onnx")
    step = tmp_path / "run" / "checkpoints" / "step-000005"
    step.mkdir(parents=True)
    (step / "trainer.json").write_text('{"step": 5}')
    with pytest.raises(VoicetuneError, match="no voice config"):
        synthesizer_for(step)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(VoicetuneError, match="not a voice"):
        synthesizer_for(tmp_path / "notes.txt")


def test_combined_score_punishes_the_buzz():
    """The fine-tune experiment's runs: B (similarity 0.893, 40 % locked) must lose to C (0.861, clean)."""
    from voicetune.evaluation.report import EvalResult, problems

    def result(sim, wer, lock):
        return EvalResult(target="x", dataset="d", sentences=15, asr_model="tiny.en", wer=wer, cer=0.0,
                          reference_wer=0.109, similarity=sim, reference_similarity=0.932, median_f0=120.0,
                          dataset_median_f0=123.0, lock_share=lock, dataset_lock_share=0.14, frame_rate=RATE,
                          comb_db=4.0 if lock > 0.2 else 1.2, dataset_comb_db=1.0,
                          seconds_per_phoneme=0.07, dataset_seconds_per_phoneme=0.07, duration_ratio=1.0,
                          clipping=0.0, leading_silence=0.05, trailing_silence=0.1, rtf=0.1, audio_seconds=40.0,
                          eval_seconds=10.0, sample_rate=SR)

    b, c = result(0.893, 0.091, 0.40), result(0.861, 0.097, 0.007)
    assert b.combined == pytest.approx(0.893 - 0.26) and c.combined == pytest.approx(0.861)
    assert c.combined > b.combined
    assert any("frame-rate buzz" in p for p in problems(b)) and problems(c) == []
    worse = result(0.861, 0.20, 0.007)
    assert worse.combined == pytest.approx(0.861 - 0.091)
    assert any("intelligibility" in p for p in problems(worse))
    assert b.row(step=5)["combined"] == pytest.approx(b.combined) and b.scores()["sentences"] == 15.0
