"""Training items for VITS from a dataset folder: phoneme ids + audio + linear spectrogram, cached.

The cache lives in ``DATASET/.cache/vits-v1/`` and is keyed by the sha256 of the wav's bytes, the
text, the voice's phoneme map and the STFT settings: replacing a wav or editing a transcript can
never reuse stale features (piper1-gpl keys by file name and does). Nothing is dropped silently:
clips whose phonemes the voice lacks, or that are too long/short for the model, are returned with
the reason so training can report them before it starts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from voicetune.audio import load_audio
from voicetune.data.dataset import Clip, Dataset
from voicetune.fileio import sha256_file, write_with

CACHE_VERSION = 1
MAX_TOKENS = 400  # ids; longer inputs make attention's memory explode on CPU


@dataclass
class VitsItem:
    clip_id: str
    ids: torch.Tensor  # [t_x] long
    audio: torch.Tensor  # [samples] float32 at the voice rate
    spec: torch.Tensor  # [spec_channels, frames]
    speaker: int = 0
    text: str = ""

    @property
    def frames(self) -> int:
        return int(self.spec.shape[-1])


@dataclass
class Skipped:
    clip_id: str
    reason: str


@dataclass
class FeatureSet:
    train: list[VitsItem] = field(default_factory=list)
    eval: list[VitsItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    cache_hits: int = 0


class FeatureCache:
    def __init__(self, dataset_root: Path, voice, model_config):
        from voicetune.text.phonemize import Phonemizer

        self.root = Path(dataset_root)
        self.voice, self.cfg = voice, model_config
        self.phonemizer = Phonemizer(voice)
        fingerprint = json.dumps(
            [CACHE_VERSION, sorted(voice.phoneme_id_map.items()), voice.espeak_voice, voice.sample_rate,
             model_config.filter_length, model_config.hop_length, model_config.win_length],
            sort_keys=True,
        )
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.dir = self.root / ".cache" / f"vits-v{CACHE_VERSION}"
        self.hits = 0

    def ids_for(self, text: str) -> tuple[list[int], list[str]]:
        """Phoneme ids of the whole text (sentences joined, as Piper's preprocessing does) and
        the phonemes missing from the voice's map."""
        phonemes = self.phonemizer.phonemes(text)
        return self.phonemizer.phonemes_to_ids(phonemes), self.phonemizer.missing_phonemes(phonemes)

    def item(self, clip: Clip, speaker: int = 0) -> VitsItem | Skipped:
        from voicetune.models.vits.mel import spectrogram

        wav = self.root / clip.audio_file
        key = hashlib.sha256(f"{sha256_file(wav)}|{clip.text}|{self.fingerprint}".encode()).hexdigest()[:32]
        path = self.dir / f"{key}.safetensors"
        if path.exists():
            t = load_file(str(path))
            self.hits += 1
            return self._long_enough(VitsItem(clip.id, t["ids"], t["audio"], t["spec"], speaker, clip.text))
        ids, missing = self.ids_for(clip.text)
        if missing:
            return Skipped(clip.id, f"phonemes not in the voice's map: {' '.join(missing)}")
        if len(ids) > MAX_TOKENS:
            return Skipped(clip.id, f"{len(ids)} phoneme ids > {MAX_TOKENS}; split the clip")
        audio = torch.from_numpy(load_audio(wav, self.voice.sample_rate))
        spec = spectrogram(audio.unsqueeze(0), self.cfg.filter_length, self.cfg.hop_length, self.cfg.win_length)[0]
        frames = spec.shape[-1]
        audio = audio[: frames * self.cfg.hop_length]  # exactly frames * hop samples, as VITS slices
        item = VitsItem(clip.id, torch.tensor(ids, dtype=torch.long), audio.contiguous(), spec.contiguous(), speaker, clip.text)
        self.dir.mkdir(parents=True, exist_ok=True)
        tensors = {"ids": item.ids, "audio": item.audio, "spec": item.spec}
        write_with(path, lambda tmp: save_file(tensors, str(tmp)))
        return self._long_enough(item)

    def _long_enough(self, item: VitsItem) -> VitsItem | Skipped:
        """The segment length is a training option, not part of the cached features: checked on
        every build, cached or not (the caller sets ``model_config.segment_size`` first)."""
        if item.frames < self.cfg.segment_frames:
            return Skipped(item.clip_id, f"{item.audio.shape[0] / self.voice.sample_rate:.2f} s is shorter than one "
                           f"training segment ({self.cfg.segment_size / self.voice.sample_rate:.2f} s)")
        return item

    def build(self, ds: Dataset, speaker_ids: dict[str, int] | None = None, progress=None) -> FeatureSet:
        self.hits = 0
        out = FeatureSet()
        for n, clip in enumerate(ds.clips):
            item = self.item(clip, (speaker_ids or {}).get(clip.speaker, 0))
            if isinstance(item, Skipped):
                out.skipped.append(item)
            else:
                (out.eval if clip.split == "eval" else out.train).append(item)
            if progress:
                progress((n + 1) / len(ds.clips))
        out.cache_hits = self.hits
        return out


class ItemDataset(torch.utils.data.Dataset):
    """The engine's dataset: items plus ``lengths`` for length-bucketed batches."""

    def __init__(self, items: list[VitsItem]):
        self.items = items
        self.lengths = [it.frames for it in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> VitsItem:
        return self.items[i]


def collate(items: list[VitsItem]) -> dict[str, torch.Tensor]:
    n = len(items)
    max_x = max(len(it.ids) for it in items)
    max_y = max(it.frames for it in items)
    hop = items[0].audio.shape[0] // items[0].frames
    ids = torch.zeros(n, max_x, dtype=torch.long)
    spec = torch.zeros(n, items[0].spec.shape[0], max_y)
    audio = torch.zeros(n, 1, max_y * hop)
    for i, it in enumerate(items):
        ids[i, : len(it.ids)] = it.ids
        spec[i, :, : it.frames] = it.spec
        audio[i, 0, : it.audio.shape[0]] = it.audio
    return {
        "ids": ids,
        "ids_lengths": torch.tensor([len(it.ids) for it in items]),
        "spec": spec,
        "spec_lengths": torch.tensor([it.frames for it in items]),
        "audio": audio,
        "sid": torch.tensor([it.speaker for it in items]),
    }
