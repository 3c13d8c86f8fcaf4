"""Can a base voice say a dataset's text: the espeak voice the run phonemizes with, and the
phonemes the base's phoneme-id map has no id for, with the clips that use them.

One check, used by `voicetune train` (before any training work) and by `voicetune dataset
validate DATASET --base B`. Clips with such phonemes are left out of training, each recorded
with its reason (``features.FeatureCache`` skips them and the run file lists them): dropping the
phonemes instead would teach the model a text that differs from what the clip says.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from voicetune.data.dataset import Dataset
from voicetune.text.languages import language_block, run_espeak_voice

from .voice import VoiceConfig

SHOWN_CLIPS = 3  # clip ids listed per phoneme in the one-line report


@dataclass
class Coverage:
    language: str  # the dataset's
    base_voice: str  # the base's espeak voice
    espeak_voice: str  # what the run phonemizes with
    clips: int  # clips checked
    phonemes: int  # distinct phonemes they use
    missing: dict[str, list[str]] = field(default_factory=dict)  # phoneme -> ids of the clips using it
    switch_line: str | None = None  # the log line when espeak_voice is not the base's

    @property
    def left_out(self) -> list[str]:
        """Ids of the clips training leaves out (they use a phoneme the map lacks)."""
        return sorted({c for ids in self.missing.values() for c in ids})

    def report(self) -> str:
        if not self.missing:
            return (f"all phonemes covered: the base voice has an id for each of the {self.phonemes} phonemes of "
                    f"{self.clips} clips (espeak-ng voice '{self.espeak_voice}')")
        parts = []
        for p, ids in sorted(self.missing.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            shown = ", ".join(ids[:SHOWN_CLIPS]) + (", ..." if len(ids) > SHOWN_CLIPS else "")
            parts.append(f"{show_phoneme(p)} ({len(ids)} clip{'s' if len(ids) != 1 else ''}: {shown})")
        n = len(self.missing)
        return (f"{n} phoneme{'s' if n != 1 else ''} the base voice has no id for: {', '.join(parts)}; "
                f"{len(self.left_out)} of {self.clips} clips left out of training (espeak-ng voice "
                f"'{self.espeak_voice}'); reword them or use a base whose map has these phonemes")

    def lines(self) -> list[str]:
        return ([self.switch_line] if self.switch_line else []) + [self.report()]

    def to_dict(self) -> dict:
        return {"language": self.language, "base_espeak_voice": self.base_voice, "espeak_voice": self.espeak_voice,
                "missing_phonemes": self.missing}


def show_phoneme(p: str) -> str:
    """A phoneme readable on one line: combining marks on a dotted circle, with the code point."""
    shown = "".join(("◌" + c) if unicodedata.combining(c) else c for c in p)
    return f"{shown} {' '.join(f'U+{ord(c):04X}' for c in p)}"


def run_voice(base: VoiceConfig, language: str) -> tuple[VoiceConfig, str | None]:
    """The voice config of a run on a dataset in ``language``: the base's, with the espeak voice
    and ``language`` block of the dataset's language when it is another language (piper's
    cross-lingual fine-tuning); the log line saying so, or None."""
    if base.phoneme_type != "espeak":  # text/pinyin/... voices: espeak's voice plays no part
        return base, None
    espeak_voice, line = run_espeak_voice(language, base.espeak_voice)
    if espeak_voice == base.espeak_voice:
        return base, None
    return replace(base, espeak_voice=espeak_voice, language=language_block(language, espeak_voice)), line


def check_coverage(ds: Dataset, base: VoiceConfig) -> tuple[VoiceConfig, Coverage]:
    """(the run's voice config, the coverage of ``ds``'s clips by the base's phoneme map)."""
    from voicetune.text.phonemize import Phonemizer

    voice, line = run_voice(base, ds.language)
    phonemizer = Phonemizer(voice)
    missing: dict[str, list[str]] = {}
    used: set[str] = set()
    for clip in ds.clips:
        phonemes = phonemizer.phonemes(clip.text)
        used.update(phonemes)
        for p in phonemizer.missing_phonemes(phonemes):
            missing.setdefault(p, []).append(clip.id)
    return voice, Coverage(ds.language, base.espeak_voice, voice.espeak_voice, len(ds.clips), len(used), missing, line)


def dataset_coverage(dataset: Path, base: str) -> list[str]:
    """`voicetune dataset validate DATASET --base B`: the lines training would log (espeak voice,
    phonemes without an id), without loading the base's weights where its config is a file."""
    from voicetune.data.dataset import load_dataset
    from voicetune.models.vits.run import base_voice_config

    ds = load_dataset(dataset)
    return check_coverage(ds, base_voice_config(base))[1].lines()
