"""A transformers VITS model (folder or hub id, e.g. ``facebook/mms-tts-spa``) -> our VitsModel.

Every generator weight maps by name (convert.py), including the posterior encoder and the
stochastic duration predictor's training half, which transformers checkpoints carry: unlike a
Piper ONNX nothing needs to be re-learned (no bootstrap). finetune-hf-vits ``*-train``
checkpoints also hold a discriminator (``discriminator.discriminators.N``: one scale + one per
period); it is loaded for the periods we train with, otherwise the discriminator starts fresh and
the report says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.hub_ids import is_repo_id
from voicetune.models.mms.convert import config_from_hf, state_from_hf
from voicetune.models.mms.tokenizer import MmsTokenizer
from voicetune.models.vits.config import VitsConfig
from voicetune.models.vits.imported import ImportReport
from voicetune.models.vits.model import VitsModel, fold_weight_norm
from voicetune.models.vits.voice import VoiceConfig

MMS_LICENCE = "CC BY-NC 4.0 (Meta MMS-TTS weights: non-commercial use only)"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def is_hf_vits(path: str | Path) -> bool:
    """A folder holding a transformers config.json with model_type "vits"."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "vits"
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def resolve_hf_base(base: str | Path) -> Path:
    """A local transformers VITS folder, or a hub id downloaded into the hub cache (when online)."""
    path = Path(base)
    if path.exists():
        if not is_hf_vits(path):
            raise VoicetuneError(f"--base {base}: not a transformers VITS folder (needs config.json with "
                                 "model_type \"vits\", vocab.json and model.safetensors)")
        return path
    if not is_repo_id(str(base)):
        raise VoicetuneError(f"--base {base}: not found; give a transformers VITS folder or a hub id like facebook/mms-tts-spa")
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(str(base), allow_patterns=["*.json", "*.safetensors", "*.bin", "README.md"]))
    except Exception as exc:  # offline, unknown repo, gated: hub errors have many types
        raise VoicetuneError(
            f"--base {base}: cannot download from the Hugging Face hub ({type(exc).__name__}); when online run "
            f"`huggingface-cli download {base} --local-dir DIR` and pass --base DIR"
        ) from None
    if not is_hf_vits(folder):
        raise VoicetuneError(f"--base {base}: the hub repo is not a transformers VITS model (model_type \"vits\")")
    return folder


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a transformers folder (single file or sharded), never unpickling code."""
    from safetensors.torch import load_file

    index = next((folder / f"{w}.index.json" for w in WEIGHT_FILES if (folder / f"{w}.index.json").is_file()), None)
    files = sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()}) if index else \
        [folder / w for w in WEIGHT_FILES if (folder / w).is_file()][:1]
    if not files:
        raise VoicetuneError(f"{folder}: no model.safetensors or pytorch_model.bin; the model folder is incomplete")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            state.update(load_file(str(f)) if f.suffix == ".safetensors" else torch.load(f, map_location="cpu", weights_only=True))
        except Exception as exc:  # truncated/corrupt files raise many types
            raise VoicetuneError(f"{f}: cannot read weights ({type(exc).__name__}: {exc}); re-download the model") from None
    return state


def licence_of(folder: Path, source: str, hf_config: dict[str, Any]) -> str:
    readme = folder / "README.md"
    if readme.is_file():
        m = re.search(r"^license:\s*(\S+)", readme.read_text(encoding="utf-8", errors="replace"), re.M)
        if m:
            return MMS_LICENCE if m[1].lower() == "cc-by-nc-4.0" else m[1]
    name = f"{source} {hf_config.get('_name_or_path', '')}".lower()
    if "mms-tts" in name or "mms_tts" in name:
        return MMS_LICENCE
    return "unknown: check the base model's own licence"


def voice_for(config: VitsConfig, tokenizer: MmsTokenizer, hf_config: dict[str, Any]) -> VoiceConfig:
    """The voice settings our tools keep per run: rate, scales, the character map (phoneme_type text)."""
    rate = float(hf_config.get("speaking_rate", 1.0)) or 1.0
    return VoiceConfig(
        sample_rate=config.sample_rate, phoneme_id_map={ch: [i] for ch, i in tokenizer.vocab.items()},
        num_symbols=config.num_symbols, espeak_voice=tokenizer.language or "und", phoneme_type="text",
        num_speakers=config.n_speakers, noise_scale=float(hf_config.get("noise_scale", 0.667)),
        length_scale=1.0 / rate, noise_w=float(hf_config.get("noise_scale_duration", 0.8)),
        hop_length=config.hop_length,
    )


@dataclass
class MmsImport:
    model: VitsModel
    config: VitsConfig
    tokenizer: MmsTokenizer
    voice: VoiceConfig
    report: ImportReport
    hf_config: dict[str, Any]
    licence: str
    folder: Path
    discriminator_state: dict[str, torch.Tensor] | None = None  # plain weights, our names
    discriminator_periods: tuple[int, ...] = ()


def _split_discriminator(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    gen, disc = {}, {}
    for k, v in state.items():
        k = k.removeprefix("vits.")
        if k.startswith("discriminator."):
            disc[k.removeprefix("discriminator.").replace(".final_conv.", ".conv_post.")] = v
        else:
            gen[k] = v
    return gen, fold_weight_norm(disc)


def import_hf(base: str | Path) -> MmsImport:
    """Load a transformers VITS model into our core (eval mode, no weight norm)."""
    folder = resolve_hf_base(base)
    hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config = config_from_hf(hf_config, str(folder / "config.json"))
    tokenizer = MmsTokenizer.from_folder(folder)
    if tokenizer.vocab_size > config.num_symbols:
        raise VoicetuneError(f"{folder / 'vocab.json'}: ids up to {tokenizer.vocab_size - 1} but the model has "
                             f"{config.num_symbols} symbols; the tokenizer does not belong to this model")
    gen_state, disc_state = _split_discriminator(read_weights(folder))
    state, unused = state_from_hf(gen_state)
    model = VitsModel(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or wrong:
        detail = "; ".join(wrong[:3] + [f"missing {k}" for k in missing[:3]])
        raise VoicetuneError(f"{folder}: weights do not match its config.json ({detail}); re-download the model")
    model.load_state_dict({k: state[k] for k in expected}, strict=True)
    model.eval()
    notes = ["all generator parts loaded, posterior encoder and duration-predictor training half included: no bootstrap"]
    periods: tuple[int, ...] = ()
    if disc_state:
        periods = tuple(int(p) for p in hf_config.get("discriminator_periods", (2, 3, 5, 7, 11)))
        notes.append(f"discriminator found (scale + periods {', '.join(map(str, periods))})")
    else:
        notes.append("no discriminator in the base (not a *-train checkpoint): it starts fresh")
    report = ImportReport(
        source=str(base), loaded_tensors=len(state), loaded_weights=sum(int(v.numel()) for v in state.values()),
        absent={} if disc_state else {"discriminator": 0}, absent_keys=[], unused=unused, notes=notes,
    )
    return MmsImport(model, config, tokenizer, voice_for(config, tokenizer, hf_config), report, hf_config,
                     licence_of(folder, str(base), hf_config), folder, disc_state or None, periods)


def load_discriminator(disc_state: dict[str, torch.Tensor], their_periods: tuple[int, ...], our_periods: list[int]):
    """Our MultiPeriodDiscriminator for ``our_periods`` from a finetune-hf-vits discriminator, or
    (None, reason). Index 0 is the scale discriminator in both; period p is ``1 + their_periods.index(p)``."""
    from voicetune.models.vits.discriminators import MultiPeriodDiscriminator

    missing = [p for p in our_periods if p not in their_periods]
    if missing:
        return None, f"the base's discriminator has no period(s) {missing}: starting it fresh"
    disc = MultiPeriodDiscriminator(tuple(our_periods))
    target = disc.state_dict()
    picked = {}
    for ours_i, src_i in [(0, 0)] + [(1 + n, 1 + their_periods.index(p)) for n, p in enumerate(our_periods)]:
        prefix = f"discriminators.{src_i}."
        for k, v in disc_state.items():
            if k.startswith(prefix):
                base = f"discriminators.{ours_i}.{k.removeprefix(prefix)}".removesuffix(".weight")
                g, vv = f"{base}.parametrizations.weight.original0", f"{base}.parametrizations.weight.original1"
                if k.endswith(".weight") and g in target:  # our discriminator trains under weight norm
                    picked[g] = torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)
                    picked[vv] = v
                else:
                    picked[f"{base}.weight" if k.endswith(".weight") else f"discriminators.{ours_i}.{k.removeprefix(prefix)}"] = v
    bad = [k for k in target if k not in picked or picked[k].shape != target[k].shape]
    if bad:
        return None, f"the base's discriminator does not fit ours ({bad[0]}): starting it fresh"
    disc.load_state_dict(picked, strict=True)
    return disc, f"discriminator loaded from the base (scale + periods {', '.join(map(str, our_periods))})"
