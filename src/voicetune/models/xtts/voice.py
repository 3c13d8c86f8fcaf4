"""Speak with an exported XTTS voice folder through coqui's own ``Xtts`` (what users will run).

The reference speaker comes from ``--speaker-wav`` (one or more files) or the folder's
``reference.wav`` chosen at export. Conditioning is computed from audio decoded by voicetune
(soundfile/ffmpeg), so no torchaudio/torchcodec audio I/O is needed. Languages outside coqui's
17 go through voicetune's cleaning (see text.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetune.errors import VoicetuneError
from voicetune.models.xtts.base import SPEAK_FILES, check_files, read_config
from voicetune.models.xtts.compat import import_coqui, load_audio_soundfile

OUTPUT_RATE = 24000
HOP = 256  # output samples per decoder frame (xtts_synthesizer)
REFERENCE = "reference.wav"
_CACHE: dict[tuple, XttsVoice] = {}


@dataclass
class XttsVoice:
    model: object  # TTS.tts.models.xtts.Xtts
    folder: Path
    language: str
    scratch: object = None  # the temporary folder a run's checkpoint speaks from: lives with the voice

    @property
    def sample_rate(self) -> int:
        return int(getattr(self.model.args, "output_sample_rate", OUTPUT_RATE))


def is_xtts_voice(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and all((p / n).is_file() for n in SPEAK_FILES) and \
        read_config(p / "config.json").get("model") == "xtts"


def load_xtts_voice(folder: str | Path, device: str = "auto", cache: bool = True) -> XttsVoice:
    """``cache=False`` for a folder that is about to move or vanish (export's temp folder).
    ``device``: voicetune.devices.resolve's rule (auto: a GPU if there is one)."""
    from voicetune.devices import resolve

    device = resolve(device)
    folder = Path(folder)
    check_files(folder, SPEAK_FILES, what="--voice")
    key = (str(folder.resolve()), (folder / "model.pth").stat().st_mtime_ns, device)
    if key in _CACHE:
        return _CACHE[key]
    import_coqui()
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    from voicetune.models.xtts.text import patch_tokenizer

    config = XttsConfig()
    config.load_json(str(folder / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
    patch_tokenizer(model.tokenizer)
    model.to(device)
    langs = list(config.languages or ["en"])
    voice = XttsVoice(model, folder, langs[0])
    if cache:
        _CACHE[key] = voice
    return voice


def conditioning(voice: XttsVoice, speaker_wavs: list[Path]):
    """(gpt_cond_latent, speaker_embedding) as coqui's get_conditioning_latents, from our decoder."""
    import torch

    model = voice.model
    audios = []
    embeddings = []
    for wav in speaker_wavs:
        audio = load_audio_soundfile(wav, 22050)[:, : 22050 * 30].to(model.device)
        embeddings.append(model.get_speaker_embedding(audio, 22050))
        audios.append(audio)
    latent = model.get_gpt_cond_latents(torch.cat(audios, dim=-1), 22050, length=6, chunk_length=6)
    return latent, torch.stack(embeddings).mean(dim=0)


def say_xtts(text: str, voice: XttsVoice, *, speaker_wavs: list[Path] | None = None, language: str | None = None,
             temperature: float = 0.75, seed: int | None = None, sentence_silence: float = 0.2) -> np.ndarray:
    import torch

    from voicetune.synth import join_sentences, require_words
    from voicetune.text.sentences import split_sentences

    wavs = speaker_wavs or [voice.folder / REFERENCE]
    for w in wavs:
        if not Path(w).is_file():
            raise VoicetuneError(f"{w}: reference clip not found; give --speaker-wav FILE (6-10 s of the voice)")
    require_words(text)
    latent, speaker = conditioning(voice, [Path(w) for w in wavs])
    lang = language or voice.language
    parts = []
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        for sentence in split_sentences(text) or [text]:
            out = voice.model.inference(sentence, lang, latent, speaker, temperature=temperature)
            parts.append(np.asarray(out["wav"], dtype=np.float32))
    return join_sentences(parts, voice.sample_rate, sentence_silence)


# voices built from a run's checkpoints kept loaded at once (an A/B of two; a real XTTS is ~2 GB each)
_RUN_VOICES = 2


def open_voice(target: str | Path, device: str = "auto", cache: bool = True) -> XttsVoice:
    """The voice of an exported XTTS folder, an XTTS run (its best checkpoint) or one of its checkpoint
    folders. A run speaks through the folder `voicetune export --format xtts` would write (into a
    temporary folder that lives as long as the voice), so what `say`, the UI and evaluation hear is
    what users of the export get."""
    import tempfile

    from voicetune.devices import resolve
    from voicetune.models.xtts.export import write_xtts_folder
    from voicetune.models.xtts.run import checkpoint_for

    target = Path(target)
    if is_xtts_voice(target):
        return load_xtts_voice(target, device=device, cache=cache)
    ckpt, _ = checkpoint_for(target, "best")
    key = ("run", str(ckpt.resolve()), (ckpt / "model.safetensors").stat().st_mtime_ns, resolve(device))
    if cache and key in _CACHE:
        return _CACHE[key]
    scratch = tempfile.TemporaryDirectory(prefix="voicetune-xtts-voice-")
    folder = Path(scratch.name) / "voice"
    write_xtts_folder(ckpt, folder)
    voice = load_xtts_voice(folder, device=device, cache=False)
    voice.scratch = scratch
    if cache:
        kept = [k for k in _CACHE if k[0] == "run"]  # oldest first: dicts keep insertion order
        for old in kept[: len(kept) - _RUN_VOICES + 1]:
            del _CACHE[old]
        _CACHE[key] = voice
    return voice


def xtts_synthesizer(target: str | Path, device: str = "cpu"):
    """voicetune.evaluation's ``text -> (audio, rate)`` for an exported XTTS folder, an XTTS run or one
    of its checkpoints (``open_voice``: what is scored is what users get)."""
    from voicetune.evaluation.targets import EVAL_SEED, Synthesizer

    voice = open_voice(target, device=device, cache=False)

    def speak(text: str) -> tuple[np.ndarray, int]:
        return say_xtts(text, voice, seed=EVAL_SEED), voice.sample_rate

    return Synthesizer(speak, str(target), voice.sample_rate, HOP)
