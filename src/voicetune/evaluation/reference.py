"""What the dataset itself scores: the reference point every synthesized number is read against.

- speaker centroid of the eval clips (what synthesized speech is compared with), and the
  similarity of real train clips to that centroid ("eval clips vs train clips"): the ceiling a
  perfect clone of this speaker, recorded under these conditions, would reach;
- the speaker's F0 (voiced frames pooled), so median F0 and the frame-rate lock share can be
  computed for any voice's frame rate;
- the speaking rate in seconds per phoneme over the speech part of each clip.

Computed once per dataset per process (evaluating ten checkpoints re-uses it); at most
``MAX_CLIPS`` clips per split are read, spread evenly, so a 10-hour dataset costs what a
30-minute one does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetune.audio import load_audio
from voicetune.data.dataset import Clip, load_dataset
from voicetune.errors import DatasetError
from voicetune.evaluation import pitch, speaker
from voicetune.evaluation.asr import Intelligibility, intelligibility
from voicetune.evaluation.metrics import phoneme_count, speech_seconds

MAX_CLIPS = 30
_CACHE: dict[tuple, DatasetReference] = {}
_LOCK = threading.Lock()


@dataclass
class DatasetReference:
    path: Path
    language: str
    sample_rate: int
    eval_audio: list[np.ndarray]
    eval_texts: list[str]
    center: np.ndarray  # speaker centroid of the eval clips
    similarity: float | None  # train clips vs that centroid (None when there are no train clips)
    voiced_f0: np.ndarray  # Hz, all voiced frames of the clips read
    seconds_per_phoneme: float | None
    n_eval: int
    n_train: int

    pitch_audio: list[np.ndarray] = field(default_factory=list)  # the clips the F0 above was read from
    wer_by_asr: dict[str, Intelligibility] = field(default_factory=dict)
    comb_by_rate: dict[float, float] = field(default_factory=dict)

    def pitch_at(self, rate: float) -> pitch.PitchStats:
        """Median F0 and lock share at a voice's frame rate (the rate depends on the voice, not the data)."""
        return pitch.pitch_stats([self.voiced_f0], rate)

    def comb_at(self, rate: float) -> float:
        """The real recordings' frame-rate comb (dB) at a voice's frame rate: the level a clean voice sits at."""
        if rate not in self.comb_by_rate:
            self.comb_by_rate[rate] = pitch.frame_rate_comb(self.pitch_audio, self.sample_rate, rate)
        return self.comb_by_rate[rate]

    def intelligibility(self, model, label: str) -> Intelligibility:
        """Whisper on the real eval clips, once per ASR model: the WER floor this speaker allows."""
        if label not in self.wer_by_asr:
            self.wer_by_asr[label] = intelligibility(model, self.eval_audio, self.sample_rate, self.eval_texts,
                                                     language=self.language)
        return self.wer_by_asr[label]


def _spread(clips: list[Clip], n: int) -> list[Clip]:
    """``n`` clips evenly over the (id-sorted) list: every source and part of the session shows up."""
    clips = sorted(clips, key=lambda c: c.id)
    if len(clips) <= n:
        return clips
    idx = np.linspace(0, len(clips) - 1, n).round().astype(int)
    return [clips[i] for i in idx]


def _key(root: Path) -> tuple:
    stamps = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(root.glob("*.csv")) + [root / "dataset.json"]
                   if p.exists())
    return (str(root.resolve()), stamps)


def dataset_reference(dataset_dir: str | Path) -> DatasetReference:
    root = Path(dataset_dir)
    ds = load_dataset(root)  # raises a one-line DatasetError for a missing/bad folder
    key = _key(root)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    evals, trains = _spread(ds.eval, MAX_CLIPS), _spread(ds.train, MAX_CLIPS)
    if not evals:
        raise DatasetError(
            f"{root / 'metadata_eval.csv'}: the dataset has no eval clips to compare with; "
            f"move a few rows there from metadata_train.csv (or re-run `voicetune prepare` with --eval-fraction 0.1)"
        )
    sr = ds.sample_rate
    eval_audio = [load_audio(root / c.audio_file, sr) for c in evals]
    train_audio = [load_audio(root / c.audio_file, sr) for c in trains]
    eval_emb = speaker.embed_many(eval_audio, sr)
    if len(eval_emb) == 0:
        raise DatasetError(f"{root}: no speech found in the eval clips; check metadata_eval.csv and wavs/")
    center = speaker.centroid(eval_emb)
    sim = speaker.similarity_to(speaker.embed_many(train_audio, sr), center)
    all_audio, all_texts = eval_audio + train_audio, [c.text for c in evals + trains]
    tracks = [pitch.f0_track(a, sr) for a in all_audio]
    voiced = np.concatenate([t[t > 0] for t in tracks]) if tracks else np.zeros(0)
    ref = DatasetReference(
        path=root, language=ds.language, sample_rate=sr, eval_audio=eval_audio, eval_texts=[c.text for c in evals],
        center=center, similarity=sim, voiced_f0=voiced, pitch_audio=all_audio,
        seconds_per_phoneme=seconds_per_phoneme(all_audio, all_texts, sr, ds.language),
        n_eval=len(evals), n_train=len(trains),
    )
    with _LOCK:
        _CACHE[key] = ref
    return ref


def seconds_per_phoneme(clips: list[np.ndarray], texts: list[str], sample_rate: int, language: str) -> float | None:
    """Speech seconds (silence at the ends and pauses > 0.15 s cut out) per phoneme, over all clips."""
    seconds = phonemes = 0.0
    for audio, text in zip(clips, texts, strict=True):
        n = phoneme_count(text, language)
        spoken = speech_seconds(audio, sample_rate)
        if n and spoken > 0:
            seconds += spoken
            phonemes += n
    return seconds / phonemes if phonemes else None
