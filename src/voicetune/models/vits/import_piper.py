"""Piper voice -> our VitsModel: from the published ``.onnx`` + ``.onnx.json`` (no checkpoint
needed), or from a Piper Lightning ``.ckpt``.

ONNX: 316 of Joe's initializers carry PyTorch names; the rest are recovered from the graph:
anonymous ``onnx::Conv_N`` weights (the flow's weight-normed WaveNet convs, constant-folded)
belong to the parameter named by the node that consumes them, the text embedding was stored as
``sid`` (an unused input's name reused), and ``dp.flows.0.logs`` survives only as the folded
``exp(-logs)``. The ONNX holds the inference path only; what training needs beyond it is
reported in :class:`ImportReport` (``absent``) so the trainer knows what to bootstrap.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import VitsConfig, preset
from .errors import VoiceError
from .import_checkpoint import import_piper_checkpoint, load_checkpoint_safely, plain_weights
from .imported import ImportedVoice, ImportReport, absent_groups
from .model import VitsModel
from .voice import VoiceConfig

_PIPER_INPUTS = {"input", "input_lengths", "scales"}
__all__ = [
    "ImportReport",
    "ImportedVoice",
    "import_piper",
    "import_piper_checkpoint",
    "import_piper_onnx",
    "load_checkpoint_safely",
    "plain_weights",
    "resolve_voice_files",
]


# ---------------------------------------------------------------------------------- ONNX
def resolve_voice_files(path: str | Path, config_path: str | Path | None = None) -> tuple[Path, Path]:
    """A .onnx file or a folder holding exactly one -> (onnx path, json path)."""
    path = Path(path)
    if path.is_dir():
        onnx_files = sorted(path.glob("*.onnx"))
        if not onnx_files:
            raise VoiceError(f"{path}: no .onnx voice in this folder; pass the voice's .onnx file")
        if len(onnx_files) > 1:
            names = ", ".join(p.name for p in onnx_files)
            raise VoiceError(f"{path}: several voices here ({names}); pass one .onnx file")
        path = onnx_files[0]
    if not path.exists():
        raise VoiceError(f"{path}: file not found; pass a Piper voice .onnx (with its .onnx.json) or a voice folder")
    if config_path is None:
        candidates = [Path(f"{path}.json"), path.with_suffix(".json")]
        config_path = next((c for c in candidates if c.is_file()), candidates[0])
    config_path = Path(config_path)
    if not config_path.is_file():
        raise VoiceError(f"{config_path}: voice config not found; put the voice's .onnx.json next to {path.name}")
    return path, config_path


def _consumers(graph) -> dict[str, list[tuple[str, str, int]]]:
    out: dict[str, list[tuple[str, str, int]]] = {}
    for node in graph.node:
        for idx, name in enumerate(node.input):
            out.setdefault(name, []).append((node.name, node.op_type, idx))
    return out


def _param_from_node(node_name: str, op_type: str, idx: int) -> tuple[str, Any] | None:
    """Which parameter an initializer is, from the node consuming it -> (name, transform).

    '/flow/flows.6/enc/in_layers.0/Conv', input 1 -> 'flow.flows.6.enc.in_layers.0.weight'.
    Exporters merge identical initializers (a fresh model's LayerNorm gammas are all ones), so
    every consumer names a parameter, not only the initializer's own name.
    """
    if not node_name.startswith("/"):
        return None
    parts = node_name.strip("/").split("/")
    module, leaf_node = ".".join(parts[:-1]), parts[-1]
    if not module:
        return None
    last = module.rsplit(".", 1)[-1] if "." not in parts[-2] else parts[-2].split(".")[0]
    if module == "dp.flows.0":
        # ElementwiseAffine in reverse: (x - m) * exp(-logs); the exporter folds the negation
        # (Exp input = -logs) or the whole exp (Mul input = exp(-logs))
        if op_type == "Sub":
            return "dp.flows.0.m", None
        if op_type == "Exp":
            return "dp.flows.0.logs", lambda a: -a
        if op_type == "Mul" and leaf_node == "Mul":
            return "dp.flows.0.logs", lambda a: -np.log(a)
        return None
    if op_type in ("Conv", "ConvTranspose"):
        leaf = {1: "weight", 2: "bias"}.get(idx)
    elif op_type == "Gather":
        leaf = "weight" if idx == 0 else None
    elif op_type == "LayerNormalization":  # opset >= 17 exporters keep layer norm whole
        leaf = {1: "gamma", 2: "beta"}.get(idx)
    elif last.startswith("norm") and op_type in ("Mul", "Add") and leaf_node in ("Mul", "Add_1"):
        leaf = "gamma" if op_type == "Mul" else "beta"
    else:
        leaf = None
    return (f"{module}.{leaf}", None) if leaf else None


def _node_attr(graph, name: str, attr: str) -> list[int] | None:
    import onnx

    for node in graph.node:
        if node.name == name:
            for a in node.attribute:
                if a.name == attr:
                    return list(onnx.helper.get_attribute_value(a))
    return None


def _named_arrays(model_proto) -> dict[str, np.ndarray]:
    """Initializer arrays keyed by the parameter name(s) they stand for, where known."""
    from onnx import numpy_helper

    graph = model_proto.graph
    consumers = _consumers(graph)
    named: dict[str, np.ndarray] = {}
    tensors = [(init.name, numpy_helper.to_array(init)) for init in graph.initializer]
    # identical initializers are stored once and fanned out through Identity nodes whose
    # outputs carry the other parameters' names
    by_name = dict(tensors)
    tensors += [(n.output[0], by_name[n.input[0]]) for n in graph.node if n.op_type == "Identity" and n.input[0] in by_name]
    for init_name, arr in tensors:
        found = False
        if re.fullmatch(r"[A-Za-z_][\w.]*\.(weight|bias|gamma|beta|m|logs|emb_rel_[kv])", init_name):
            # exporters that wrapped the synthesizer prefix its names (model., model_g.)
            named.setdefault(re.sub(r"^(model_g|model)\.", "", init_name), arr)
            found = True
        if arr.dtype.kind == "f":
            for node_name, op_type, idx in consumers.get(init_name, []):
                hit = _param_from_node(node_name, op_type, idx)
                if hit:
                    key, transform = hit
                    named.setdefault(key, transform(arr) if transform else arr)
                    found = True
        if not found:
            named.setdefault(f"<unmapped>{init_name}", arr)
    return named


def _infer_config(named: dict[str, np.ndarray], graph, voice: VoiceConfig) -> VitsConfig:
    """Hyper-parameters from tensor shapes and node attributes, on top of the quality preset."""
    ours = (voice.raw.get("voicetune") or {}).get("vits_config")
    if isinstance(ours, dict):
        # our own export: it carries what an ONNX cannot (STFT sizes, posterior/flow depth)
        cfg = VitsConfig.from_dict(ours)
    else:
        q = (voice.quality or "medium").lower().replace("-", "_")
        cfg = preset(q if q in ("x_low", "low", "medium", "high") else "medium")
    c: dict[str, Any] = {}
    emb = named["enc_p.emb.weight"]
    c["num_symbols"], c["hidden_channels"] = int(emb.shape[0]), int(emb.shape[1])
    c["inter_channels"] = int(named["enc_p.proj.weight"].shape[0]) // 2
    ffn = named["enc_p.encoder.ffn_layers.0.conv_1.weight"]
    c["filter_channels"], c["kernel_size"] = int(ffn.shape[0]), int(ffn.shape[2])
    c["n_layers"] = sum(1 for k in named if re.fullmatch(r"enc_p\.encoder\.attn_layers\.\d+\.conv_q\.weight", k))
    rel = named["enc_p.encoder.attn_layers.0.emb_rel_k"]
    c["n_heads"] = c["hidden_channels"] // int(rel.shape[2])
    c["window_size"] = (int(rel.shape[1]) - 1) // 2

    n_ups = sum(1 for k in named if re.fullmatch(r"dec\.ups\.\d+\.weight", k))
    c["upsample_initial_channel"] = int(named["dec.conv_pre.weight"].shape[0])
    c["upsample_kernel_sizes"] = tuple(int(named[f"dec.ups.{i}.weight"].shape[2]) for i in range(n_ups))
    rates = [(_node_attr(graph, f"/dec/ups.{i}/ConvTranspose", "strides") or [None])[0] for i in range(n_ups)]
    if all(rates):
        c["upsample_rates"] = tuple(int(r) for r in rates)
    n_blocks = sum(1 for k in named if re.fullmatch(r"dec\.resblocks\.\d+\.convs1?\.0\.weight", k))
    n_kernels = n_blocks // max(n_ups, 1)
    c["resblock"] = "1" if "dec.resblocks.0.convs1.0.weight" in named else "2"
    conv = "convs1" if c["resblock"] == "1" else "convs"
    c["resblock_kernel_sizes"] = tuple(int(named[f"dec.resblocks.{j}.{conv}.0.weight"].shape[2]) for j in range(n_kernels))
    dil = []
    for j in range(n_kernels):
        n_convs = sum(1 for k in named if re.fullmatch(rf"dec\.resblocks\.{j}\.{conv}\.\d+\.weight", k))
        ds = [(_node_attr(graph, f"/dec/resblocks.{j}/{conv}.{i}/Conv", "dilations") or [None])[0] for i in range(n_convs)]
        dil.append(tuple(ds))
    if all(all(d) for d in dil):
        c["resblock_dilation_sizes"] = tuple(dil)

    c["flow_n_flows"] = sum(1 for k in named if re.fullmatch(r"flow\.flows\.\d+\.pre\.weight", k))
    c["flow_n_layers"] = sum(1 for k in named if re.fullmatch(r"flow\.flows\.0\.enc\.in_layers\.\d+\.bias", k))
    c["flow_kernel_size"] = int(named["flow.flows.0.enc.in_layers.0.weight"].shape[2])
    c["use_sdp"] = "dp.flows.0.m" in named
    if not c["use_sdp"]:
        c["dp_filter_channels"] = int(named["dp.conv_1.weight"].shape[0])
    if "emb_g.weight" in named:
        c["n_speakers"], c["gin_channels"] = int(named["emb_g.weight"].shape[0]), int(named["emb_g.weight"].shape[1])
    c["sample_rate"] = voice.sample_rate
    c["hop_length"] = math.prod(c.get("upsample_rates", cfg.upsample_rates))
    return cfg.with_(**c)


def import_piper_onnx(path: str | Path, config_path: str | Path | None = None) -> ImportedVoice:
    """Load a Piper voice ONNX (+ its .onnx.json) into a VitsModel (eval mode, no weight norm)."""
    import onnx

    onnx_path, json_path = resolve_voice_files(path, config_path)
    voice = VoiceConfig.load(json_path)
    try:
        proto = onnx.load(str(onnx_path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for non-ONNX bytes
        raise VoiceError(f"{onnx_path}: not an ONNX model ({type(exc).__name__}); pass a Piper voice .onnx") from None
    inputs = {i.name for i in proto.graph.input}
    if not inputs >= _PIPER_INPUTS:
        raise VoiceError(
            f"{onnx_path}: not a Piper voice ONNX (inputs {sorted(inputs)}, expected input, input_lengths, scales); "
            "pass a voice exported by Piper"
        )
    named = _named_arrays(proto)
    try:
        config = _infer_config(named, proto.graph, voice)
    except (KeyError, IndexError, ValueError) as exc:
        raise VoiceError(f"{onnx_path}: not a Piper VITS voice (cannot read {exc}); pass a Piper voice .onnx") from None

    if config.num_symbols != voice.num_symbols:
        raise VoiceError(
            f"{json_path}: does not belong to {onnx_path.name} (num_symbols {voice.num_symbols} in the json, "
            f"{config.num_symbols} in the model); use the .onnx.json published with this voice"
        )
    max_id = max((max(v) for v in voice.phoneme_id_map.values() if v), default=0)
    if max_id >= config.num_symbols:
        raise VoiceError(
            f"{json_path}: phoneme id {max_id} is beyond the model's {config.num_symbols} symbols; "
            f"use the .onnx.json published with {onnx_path.name}"
        )
    if (voice.num_speakers > 1) != config.multi_speaker or (config.multi_speaker and voice.num_speakers != config.n_speakers):
        raise VoiceError(
            f"{json_path}: says {voice.num_speakers} speaker(s) but {onnx_path.name} has {config.n_speakers}; "
            "use the .onnx.json published with this voice"
        )

    model = VitsModel(config)
    state = model.state_dict()
    training_only = model.training_only_prefixes()
    loaded, unused, shape_errors = 0, [], []
    new_state = {}
    for key, arr in named.items():
        if key not in state:
            if key.startswith("<unmapped>") and arr.size < 64:
                continue  # structural constants (shapes, split sizes, scalars)
            unused.append(key.removeprefix("<unmapped>"))
            continue
        if tuple(arr.shape) != tuple(state[key].shape):
            shape_errors.append(f"{key} {tuple(arr.shape)} vs {tuple(state[key].shape)}")
            continue
        new_state[key] = torch.from_numpy(np.array(arr, dtype=np.float32))
        loaded += int(arr.size)
    missing = [k for k in state if k not in new_state]
    absent = [k for k in missing if k.startswith(training_only)]
    lacking = [k for k in missing if not k.startswith(training_only)]
    if shape_errors or lacking:
        detail = "; ".join(shape_errors[:3] + [f"missing {k}" for k in lacking[:3]])
        raise VoiceError(f"{onnx_path}: does not match a Piper VITS architecture ({detail}); pass a Piper voice .onnx")
    model.load_state_dict(new_state, strict=False, assign=True)
    model.eval()
    groups = absent_groups(model, absent)
    groups["discriminator"] = 0
    report = ImportReport(
        source=str(onnx_path),
        loaded_tensors=len(new_state),
        loaded_weights=loaded,
        absent=groups,
        absent_keys=absent,
        unused=unused,
        notes=[
            "ONNX holds the inference path only: enc_q (posterior encoder), the SDP's training half "
            "(dp.post_*, dp.flows.1) and the discriminator start untrained",
        ],
    )
    return ImportedVoice(model=model, config=config, voice=voice, report=report)


def import_piper(path: str | Path, config_path: str | Path | None = None) -> ImportedVoice:
    """A Piper voice (.onnx or a folder with one) or a Piper training checkpoint (.ckpt)."""
    p = Path(path)
    if p.suffix == ".ckpt":
        return import_piper_checkpoint(p, config_path)
    return import_piper_onnx(p, config_path)
