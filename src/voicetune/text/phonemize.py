"""Phonemes and phoneme ids exactly as piper-tts produces them for a voice.

We call piper-tts's own code (its bundled espeak-ng bridge and data, ``PiperVoice.phonemize``
and ``phonemes_to_ids``) instead of re-implementing it: the ids a voice was trained on depend on
details (clause terminators, NFD decomposition, vowel clusters, [[ raw phonemes ]]) that a
re-implementation would drift from.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicetune.models.vits.voice import VoiceConfig

_LOCK = threading.Lock()


class Phonemizer:
    def __init__(self, voice: VoiceConfig):
        from piper import PiperVoice
        from piper.config import PiperConfig

        self.voice = voice
        # a session-less PiperVoice: phonemize() and phonemes_to_ids() never touch the session
        self._piper = PiperVoice(session=None, config=PiperConfig.from_dict(voice.to_piper_dict()))  # type: ignore[arg-type]

    def phonemize(self, text: str) -> list[list[str]]:
        """Text -> phonemes per sentence (espeak-ng's sentence split)."""
        with _LOCK:  # the espeak bridge keeps global state (current voice)
            return [s for s in self._piper.phonemize(text) if s]

    def phonemes(self, text: str) -> list[str]:
        """All of the text's phonemes, sentences joined (as Piper's preprocessing trains on them)."""
        return [p for sentence in self.phonemize(text) for p in sentence]

    def phonemes_to_ids(self, phonemes: list[str]) -> list[int]:
        # piper logs (not raises) on phonemes missing from the map; keep that quiet but countable
        logger = logging.getLogger("piper.phoneme_ids")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            return self._piper.phonemes_to_ids(phonemes)
        finally:
            logger.setLevel(level)

    def missing_phonemes(self, phonemes: list[str]) -> list[str]:
        return sorted({p for p in phonemes if p not in self.voice.phoneme_id_map})

    def text_to_ids(self, text: str) -> list[list[int]]:
        """Text -> one id sequence per sentence (with BOS/PAD/EOS as Piper adds them)."""
        return [self.phonemes_to_ids(p) for p in self.phonemize(text)]
