"""What speaking needs besides weights: the Piper voice config (.onnx.json) as a dataclass.

Unknown keys of the original JSON are kept in ``raw`` and written back on export, so a voice
round-trips without losing fields this code does not know about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VoiceError


@dataclass
class VoiceConfig:
    sample_rate: int
    phoneme_id_map: dict[str, list[int]]
    num_symbols: int
    espeak_voice: str = "en-us"
    phoneme_type: str = "espeak"
    num_speakers: int = 1
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8
    hop_length: int = 256
    quality: str | None = None
    language: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_piper_dict(cls, d: dict[str, Any], source: str = "<dict>") -> VoiceConfig:
        try:
            inference = d.get("inference", {}) or {}
            return cls(
                sample_rate=int(d["audio"]["sample_rate"]),
                phoneme_id_map={str(k): [int(i) for i in v] for k, v in d["phoneme_id_map"].items()},
                num_symbols=int(d["num_symbols"]),
                espeak_voice=str((d.get("espeak") or {}).get("voice", "en-us")),
                phoneme_type=str(d.get("phoneme_type", "espeak")),
                num_speakers=int(d.get("num_speakers", 1)),
                speaker_id_map={str(k): int(v) for k, v in (d.get("speaker_id_map") or {}).items()},
                noise_scale=float(inference.get("noise_scale", 0.667)),
                length_scale=float(inference.get("length_scale", 1.0)),
                noise_w=float(inference.get("noise_w", 0.8)),
                hop_length=int(d.get("hop_length", 256)),
                quality=(d.get("audio") or {}).get("quality"),
                language=dict(d.get("language") or {}),
                raw=d,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise VoiceError(
                f"{source}: not a Piper voice config (missing or invalid {exc}); "
                "use the .onnx.json that was published with the voice"
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> VoiceConfig:
        path = Path(path)
        if not path.is_file():
            raise VoiceError(f"{path}: voice config not found; put the voice's .onnx.json next to the .onnx")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VoiceError(f"{path}: not valid JSON ({exc}); re-download the voice's .onnx.json") from None
        if not isinstance(d, dict):
            raise VoiceError(f"{path}: not a Piper voice config (top level is not an object)")
        return cls.from_piper_dict(d, str(path))

    def to_piper_dict(self) -> dict[str, Any]:
        d = dict(self.raw)
        audio = dict(d.get("audio") or {})
        audio["sample_rate"] = self.sample_rate
        if self.quality:
            audio["quality"] = self.quality
        d["audio"] = audio
        d["espeak"] = {**(d.get("espeak") or {}), "voice": self.espeak_voice}
        d["inference"] = {"noise_scale": self.noise_scale, "length_scale": self.length_scale, "noise_w": self.noise_w}
        d["phoneme_type"] = self.phoneme_type
        d["phoneme_id_map"] = self.phoneme_id_map
        d["num_symbols"] = self.num_symbols
        d["num_speakers"] = self.num_speakers
        d["speaker_id_map"] = self.speaker_id_map
        d["hop_length"] = self.hop_length
        if self.language:
            d["language"] = self.language
        return d

    def speaker_id(self, speaker: int | str | None) -> int | None:
        """Speaker name or id -> id; None for single-speaker voices."""
        if self.num_speakers <= 1:
            return None
        if speaker is None:
            return int(self.raw.get("default_speaker_id", 0))
        if isinstance(speaker, str) and not speaker.isdigit():
            if speaker not in self.speaker_id_map:
                names = ", ".join(sorted(self.speaker_id_map)[:10])
                raise VoiceError(f"unknown speaker {speaker!r}; this voice has: {names}")
            return self.speaker_id_map[speaker]
        sid = int(speaker)
        if not 0 <= sid < self.num_speakers:
            raise VoiceError(f"speaker id {sid} out of range; this voice has {self.num_speakers} speakers (0..{self.num_speakers - 1})")
        return sid
