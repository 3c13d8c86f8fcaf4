"""Piper Lightning ``.ckpt`` -> our VitsModel (+ the discriminator's weights), read with
``torch.load(weights_only=True)`` only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .config import VitsConfig, preset
from .errors import VoiceError
from .imported import ImportedVoice, ImportReport, absent_groups
from .model import VitsModel, fold_weight_norm
from .voice import VoiceConfig


def plain_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold weight norm (old ``weight_g``/``weight_v`` or parametrizations) into plain ``weight``."""
    return fold_weight_norm(state)


# Piper's modules use torch.nn.utils.weight_norm (weight_g, weight_v); ours use
# torch.nn.utils.parametrizations.weight_norm (original0 = g, original1 = v, both over dim 0): the
# same two tensors under other names. Import renames one way, export_ckpt the other.
_WEIGHT_NORM_NAMES = ((".weight_g", ".parametrizations.weight.original0"),
                      (".weight_v", ".parametrizations.weight.original1"))


def _renamed(state: dict[str, torch.Tensor], pairs) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state.items():
        for old, new in pairs:
            if k.endswith(old):
                k = k.removesuffix(old) + new
                break
        out[k] = v
    return out


def _parametrized_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old weight_norm names -> torch.nn.utils.parametrizations names (our discriminators)."""
    return _renamed(state, _WEIGHT_NORM_NAMES)


def piper_weight_norm_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our parametrizations names -> the weight_g/weight_v names Piper's modules hold."""
    return _renamed(state, [(new, old) for old, new in _WEIGHT_NORM_NAMES])


class _Inert:
    """Stand-in for a non-dict class pickled in a checkpoint (paths, enums, Lightning metadata).
    It runs none of the original's code: it only keeps what the pickle hands it."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _stand_in(qualified: str, as_dict: bool) -> type:
    # the safe unpickler fills only real dicts with items, so dict subclasses (Lightning's
    # AttributeDict for hyper_parameters) are read as plain dicts
    if as_dict:
        return dict
    return type(qualified.rsplit(".", 1)[-1], (_Inert,), {})


def load_checkpoint_safely(path: Path) -> dict[str, Any]:
    """torch.load with weights_only=True only. Classes the safe unpickler does not know (Lightning
    metadata) are read through an allowlist of inert stand-ins, never by importing them."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except Exception as exc:
        raise VoiceError(f"{path}: cannot read the checkpoint ({type(exc).__name__}: {exc}); pass a Piper .ckpt") from None
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:
        raise VoiceError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__}); pass a Piper .ckpt") from None
    error: Exception | None = None
    for all_dicts in (False, True):
        stand_ins = [(_stand_in(n, all_dicts or n.lower().endswith("dict")), n) for n in names]
        try:
            with torch.serialization.safe_globals(stand_ins):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            error = exc
    first_line = str(error).strip().splitlines()[-1] if error else ""
    raise VoiceError(f"{path}: cannot read the checkpoint with weights_only loading ({first_line[:200]})")


_HPARAM_KEYS = {
    "num_symbols": "num_symbols",
    "num_speakers": "n_speakers",
    "sample_rate": "sample_rate",
    "filter_length": "filter_length",
    "hop_length": "hop_length",
    "win_length": "win_length",
    "mel_channels": "mel_channels",
    "mel_fmin": "mel_fmin",
    "mel_fmax": "mel_fmax",
    "inter_channels": "inter_channels",
    "hidden_channels": "hidden_channels",
    "filter_channels": "filter_channels",
    "n_heads": "n_heads",
    "n_layers": "n_layers",
    "kernel_size": "kernel_size",
    "p_dropout": "p_dropout",
    "resblock": "resblock",
    "resblock_kernel_sizes": "resblock_kernel_sizes",
    "resblock_dilation_sizes": "resblock_dilation_sizes",
    "upsample_rates": "upsample_rates",
    "upsample_initial_channel": "upsample_initial_channel",
    "upsample_kernel_sizes": "upsample_kernel_sizes",
    "gin_channels": "gin_channels",
    "use_sdp": "use_sdp",
    "segment_size": "segment_size",
    "use_spectral_norm": "use_spectral_norm",
}


def piper_hyper_parameters(config: VitsConfig) -> dict[str, Any]:
    """The architecture part of a Piper checkpoint's hyper_parameters (``_HPARAM_KEYS`` inverted);
    tuples as lists, as a YAML config of piper's trainer gives them."""
    out: dict[str, Any] = {}
    for piper_name, ours in _HPARAM_KEYS.items():
        v = getattr(config, ours)
        out[piper_name] = [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
    return out


def import_piper_checkpoint(path: str | Path, config_path: str | Path | None = None) -> ImportedVoice:
    """A Piper Lightning .ckpt (+ the training config.json / voice .onnx.json for the phoneme map)."""
    import ast

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"{path}: file not found; pass a Piper training checkpoint (.ckpt)")
    ckpt = load_checkpoint_safely(path)
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(k.startswith("model_g.") for k in state):
        raise VoiceError(f"{path}: not a Piper checkpoint (no model_g weights in state_dict); pass a Piper .ckpt")
    hparams = dict(ckpt.get("hyper_parameters") or {})
    c: dict[str, Any] = {}
    for src, dst in _HPARAM_KEYS.items():
        if src in hparams and hparams[src] is not None:
            val = hparams[src]
            c[dst] = ast.literal_eval(val) if isinstance(val, str) and dst != "resblock" else val
    gen = plain_weights({k.removeprefix("model_g."): v for k, v in state.items() if k.startswith("model_g.")})
    disc = _parametrized_names({k.removeprefix("model_d."): v for k, v in state.items() if k.startswith("model_d.")})
    if "enc_p.emb.weight" in gen:
        c["num_symbols"] = int(gen["enc_p.emb.weight"].shape[0])
    config = VitsConfig.from_dict(c) if c else preset("medium")

    notes = []
    if config_path is None:
        for cand in (path.parent / "config.json", path.parent.parent / "config.json"):
            if cand.is_file():
                config_path = cand
                break
    if config_path is not None:
        voice = VoiceConfig.load(config_path)
    else:
        from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

        voice = VoiceConfig(
            sample_rate=config.sample_rate,
            phoneme_id_map={k: list(v) for k, v in DEFAULT_PHONEME_ID_MAP.items()},
            num_symbols=config.num_symbols,
            num_speakers=config.n_speakers,
        )
        notes.append("no config.json found next to the checkpoint: Piper's default phoneme map and espeak voice en-us assumed")

    model = VitsModel(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in gen]
    unexpected = [k for k in gen if k not in expected]
    bad = [k for k in gen if k in expected and gen[k].shape != expected[k].shape]
    training_only = model.training_only_prefixes()
    lacking = [k for k in missing if not k.startswith(training_only)]
    if lacking or bad:
        detail = "; ".join([f"missing {k}" for k in lacking[:3]] + [f"shape of {k}" for k in bad[:3]])
        raise VoiceError(f"{path}: weights do not fit the architecture in its hyper_parameters ({detail})")
    model.load_state_dict({k: v.float() for k, v in gen.items() if k in expected}, strict=False)
    model.eval()
    absent = [k for k in missing]
    groups = absent_groups(model, absent)
    if not disc:
        groups["discriminator"] = 0
    report = ImportReport(
        source=str(path),
        loaded_tensors=len(gen) - len(unexpected),
        loaded_weights=sum(int(v.numel()) for k, v in gen.items() if k in expected),
        absent=groups,
        absent_keys=absent,
        unused=unexpected,
        notes=notes,
    )
    return ImportedVoice(model=model, config=config, voice=voice, report=report, discriminator_state=disc or None)


