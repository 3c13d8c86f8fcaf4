"""``evaluate_voice``: speak the evaluation sentences with any synthesizer and score what a listener
would notice, each number beside what the dataset's own recordings score.

``synthesize(text) -> (float32 mono audio, sample_rate)`` can be anything: a Piper ONNX voice, a
run checkpoint, XTTS later. Sentences are synthesized one by one (timed for the RTF), then every
measure runs over the whole batch: one Whisper call, one pass of the speaker encoder.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from voicetune.data.dataset import load_dataset
from voicetune.errors import VoicetuneError
from voicetune.evaluation import pitch, speaker
from voicetune.evaluation.asr import intelligibility
from voicetune.evaluation.metrics import clipping_share, end_silences
from voicetune.evaluation.reference import DatasetReference, dataset_reference, seconds_per_phoneme

Synthesize = Callable[[str], tuple[np.ndarray, int]]
DEFAULT_HOP = 256  # Piper/VITS voices at 16 and 22.05 kHz


@dataclass
class EvalResult:
    """All numbers of one evaluation; ``dataset_*``/``reference_*`` are the real recordings' values."""

    target: str
    dataset: str
    sentences: int
    asr_model: str
    wer: float | None
    cer: float | None
    reference_wer: float | None  # Whisper on the dataset's eval clips
    similarity: float | None  # synthesized sentences vs the eval clips' speaker centroid
    reference_similarity: float | None  # the dataset's train clips vs that centroid
    median_f0: float | None
    dataset_median_f0: float | None
    lock_share: float  # voiced frames within ±3 % of sample_rate / hop
    dataset_lock_share: float
    frame_rate: float
    comb_db: float | None  # long-window spectrum at k x frame rate above its neighbours (pitch-independent buzz)
    dataset_comb_db: float | None
    seconds_per_phoneme: float | None
    dataset_seconds_per_phoneme: float | None
    duration_ratio: float | None  # > 1: speaks slower than the dataset's speaker
    clipping: float  # share of samples at full scale
    leading_silence: float  # mean seconds before speech
    trailing_silence: float  # mean seconds after speech
    rtf: float  # synthesis seconds per second of audio
    audio_seconds: float
    eval_seconds: float  # wall time of the whole evaluation
    sample_rate: int
    transcripts: list[dict[str, str]] = field(default_factory=list)

    @property
    def combined(self) -> float | None:
        """One number to pick checkpoints by (higher is better): similarity minus the WER above
        the real recordings' and minus the frame-rate lock above the dataset's own share.

        Units chosen so a 5-point WER rise costs what a +0.05 similarity gain brings (checkpoints
        of one run differ by ~0.02-0.07), and a buzzing decoder (40-73 % locked in the experiment)
        can never win on similarity alone: run B there (0.893, 40 % locked) scores 0.63, run C
        (0.861, clean) 0.86.
        """
        if self.similarity is None or self.wer is None:
            return None
        wer_excess = max(0.0, self.wer - (self.reference_wer or 0.0))
        lock_excess = max(0.0, self.lock_share - self.dataset_lock_share)
        return self.similarity - wer_excess - lock_excess

    def row(self, **extra: Any) -> dict[str, Any]:
        """The numbers for ``eval.jsonl``: everything but the per-sentence transcripts."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if k != "transcripts"}
        row["combined"] = self.combined
        row.update(extra)
        return row

    def scores(self) -> dict[str, float]:
        """Numbers only (for the trainer's ``on_checkpoint`` hook, which stores floats)."""
        return {k: float(v) for k, v in self.row().items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def load_sentences(path: str | Path | None = None) -> list[str]:
    """The built-in evaluation sentences, or one sentence per line of ``path`` (``#`` comments skipped)."""
    if path is None:
        text = resources.files("voicetune").joinpath("resources/eval_sentences_en.txt").read_text(encoding="utf-8")
        where = "built-in eval_sentences_en.txt"
    else:
        p = Path(path)
        if not p.is_file():
            raise VoicetuneError(f"{p}: sentences file not found; pass a text file with one sentence per line")
        text, where = p.read_text(encoding="utf-8"), str(p)
    lines = [ln.strip() for ln in text.splitlines()]
    out = [ln for ln in lines if ln and not ln.startswith("#")]
    if not out:
        raise VoicetuneError(f"{where}: no sentences (empty or only # comments); add one sentence per line")
    return out


def synthesize_all(synthesize: Synthesize, sentences: list[str]) -> tuple[list[np.ndarray], int, float]:
    """(clips, sample_rate, synthesis seconds); every clip must come at the same rate."""
    clips: list[np.ndarray] = []
    rate = None
    spent = 0.0
    for text in sentences:
        t0 = time.perf_counter()
        audio, sr = synthesize(text)
        spent += time.perf_counter() - t0
        if rate is not None and sr != rate:
            raise VoicetuneError(f"the synthesizer changed its sample rate mid-run ({rate} -> {sr} Hz)")
        rate = int(sr)
        clips.append(np.asarray(audio, dtype=np.float32).reshape(-1))
    assert rate is not None
    return clips, rate, spent


def _intelligibility(clips, sample_rate: int, sentences: list[str], ref: DatasetReference, asr_model: str | None):
    """(heard, the real recordings', the ASR's label). With no --asr-model on a dataset the bundled
    English-only tiny.en cannot transcribe, WER/CER are not measured (None) and the label says why;
    similarity, pitch, buzz and pace do not need an ASR and are still computed."""
    from voicetune.data.transcribe import load_asr
    from voicetune.evaluation.asr import Intelligibility

    try:
        model, spec = load_asr(asr_model, language=ref.language)
    except VoicetuneError:
        if asr_model is not None or ref.language.split("-")[0] == "en":
            raise
        none = Intelligibility(None, None, [""] * len(clips))
        return none, Intelligibility(None, None, []), (
            f"not measured: the bundled Whisper tiny.en is English-only and the dataset is '{ref.language}'; "
            "pass a multilingual --asr-model for WER/CER")
    heard = intelligibility(model, clips, sample_rate, sentences, language=ref.language)
    return heard, ref.intelligibility(model, spec.label), spec.label


def score(
    clips: list[np.ndarray],
    sample_rate: int,
    sentences: list[str],
    ref: DatasetReference,
    asr_model: str | None = None,
    *,
    hop_length: int = DEFAULT_HOP,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every measure of already synthesized clips against the dataset reference (EvalResult fields)."""
    note = progress or (lambda _stage: None)
    note("speaker similarity")
    sim = speaker.similarity_to(speaker.embed_many(clips, sample_rate), ref.center)
    note("pitch")
    rate = pitch.frame_rate(sample_rate, hop_length)
    own, data = pitch.analyze_pitch(clips, sample_rate, rate), ref.pitch_at(rate)
    note("transcribing")
    heard, real, label = _intelligibility(clips, sample_rate, sentences, ref, asr_model)
    spp = seconds_per_phoneme(clips, sentences, sample_rate, ref.language)
    ends = np.array([end_silences(c, sample_rate) for c in clips])
    pooled = np.concatenate(clips) if clips else np.zeros(0, dtype=np.float32)
    return dict(
        asr_model=label, wer=heard.wer, cer=heard.cer, reference_wer=real.wer,
        similarity=sim, reference_similarity=ref.similarity,
        median_f0=own.median_f0, dataset_median_f0=data.median_f0,
        lock_share=own.lock_share, dataset_lock_share=data.lock_share, frame_rate=rate,
        comb_db=pitch.frame_rate_comb(clips, sample_rate, rate), dataset_comb_db=ref.comb_at(rate),
        seconds_per_phoneme=spp, dataset_seconds_per_phoneme=ref.seconds_per_phoneme,
        duration_ratio=spp / ref.seconds_per_phoneme if spp and ref.seconds_per_phoneme else None,
        clipping=clipping_share(pooled),
        leading_silence=float(ends[:, 0].mean()) if len(ends) else 0.0,
        trailing_silence=float(ends[:, 1].mean()) if len(ends) else 0.0,
        transcripts=[{"text": s, "heard": h} for s, h in zip(sentences, heard.hypotheses, strict=True)],
    )


def evaluate_voice(
    synthesize: Synthesize,
    dataset_dir: str | Path,
    sentences: list[str] | str | Path | None = None,
    asr_model: str | None = None,
    *,
    hop_length: int = DEFAULT_HOP,
    target: str = "voice",
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Synthesize the evaluation sentences and score them against ``dataset_dir``.

    ``sentences``: a list, a file path, or None for the built-in set. ``hop_length`` sets the
    decoder frame rate checked for the lock (sample_rate / hop_length).
    """
    started = time.perf_counter()
    texts = sentences if isinstance(sentences, list) else load_sentences(sentences)
    texts = [t.strip() for t in texts if t.strip()]
    if not texts:
        raise VoicetuneError("no evaluation sentences given; pass a list of sentences or a file")
    note = progress or (lambda _stage: None)
    note("reading the dataset")
    language = load_dataset(dataset_dir).language  # cheap (JSON only): fail before any heavy work
    if sentences is None and language.split("-")[0] != "en":
        raise VoicetuneError(
            f"{dataset_dir}: the dataset is in '{language}' but the built-in evaluation sentences are "
            "English; pass --sentences FILE with sentences in that language (and a multilingual --asr-model)"
        )
    ref = dataset_reference(dataset_dir)
    note("synthesizing")
    clips, sr, spent = synthesize_all(synthesize, texts)
    audio_seconds = sum(len(c) for c in clips) / sr
    numbers = score(clips, sr, texts, ref, asr_model, hop_length=hop_length, progress=progress)
    return EvalResult(
        target=target, dataset=str(dataset_dir), sentences=len(texts), sample_rate=sr,
        rtf=spent / audio_seconds if audio_seconds else float("inf"), audio_seconds=audio_seconds,
        eval_seconds=time.perf_counter() - started, **numbers,
    )


# How far a fine-tune may stray from the real speaker before a listener notices (the quality goals
# of docs/BENCHMARKS.md, "Fine-tuning quality").
LOCK_MARGIN = 0.05  # frame-rate lock: at most the dataset's own share + 5 points
COMB_MARGIN = 1.0  # frame-rate comb: at most the dataset's own + 1 dB
F0_MARGIN = 0.15  # median F0 within 15 % of the dataset's
WER_MARGIN = 0.03  # WER: at most the real recordings' WER + 3 points ...
WER_FLOOR = 0.05  # ... counted from at least 5 %: tiny.en alone misses 2-8 % of clean TTS (Joe, espeak-ng)
DURATION_RANGE = (0.8, 1.25)


def problems(r: EvalResult) -> list[str]:
    """What a listener would likely complain about, one line each (empty when nothing stands out)."""
    out = []
    # comb_db is None in rows written before the comb existed (an older evals.json): judge by the lock alone
    has_comb = r.comb_db is not None and r.dataset_comb_db is not None
    combed = has_comb and r.comb_db > r.dataset_comb_db + COMB_MARGIN
    if r.lock_share > r.dataset_lock_share + LOCK_MARGIN or combed:
        lines = (f" and the spectrum has lines at its multiples ({r.comb_db:+.1f} dB vs the recordings' "
                 f"{r.dataset_comb_db:+.1f} dB)") if has_comb else ""
        out.append(
            f"frame-rate buzz: {r.lock_share:.0%} of voiced frames sit at {r.frame_rate:.1f} Hz (sample_rate/hop; "
            f"dataset {r.dataset_lock_share:.0%}){lines}: the decoder emits a pulse per frame"
        )
    if r.median_f0 and r.dataset_median_f0 and abs(r.median_f0 / r.dataset_median_f0 - 1) > F0_MARGIN:
        out.append(f"pitch: median F0 {r.median_f0:.0f} Hz vs the speaker's {r.dataset_median_f0:.0f} Hz")
    if r.wer is not None and r.wer > max(r.reference_wer or 0.0, WER_FLOOR) + WER_MARGIN:
        out.append(f"intelligibility: WER {r.wer:.1%} vs {r.reference_wer or 0:.1%} on the real recordings")
    if r.duration_ratio is not None and not DURATION_RANGE[0] <= r.duration_ratio <= DURATION_RANGE[1]:
        out.append(f"speaking rate: {r.duration_ratio:.2f}x the speaker's time per phoneme")
    if r.clipping > 0.001:
        out.append(f"clipping: {r.clipping:.2%} of samples at full scale")
    return out
