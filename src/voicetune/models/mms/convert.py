"""transformers ``VitsModel`` <-> our VITS core: configs and parameter names, both directions.

The two are the same network (MMS was trained with the original VITS code; transformers renamed
it). Differences that matter for the weights:
- attention projections are ``nn.Linear`` [out, in] there, 1x1 ``Conv1d`` [out, in, 1] here;
- LayerNorm is ``weight``/``bias`` there, ``gamma``/``beta`` here;
- flows: transformers keeps only the coupling layers (``flow.flows.i``) and flips in ``forward``;
  VITS interleaves ``Flip`` modules, so coupling ``i`` is our ``flow.flows.{2i}`` and duration
  ConvFlow ``k`` (k >= 1, after the affine flow 0) is our ``dp.flows.{2k-1}``;
- the WaveNet convs are weight-normed there (``parametrizations.weight.original0/1`` or the old
  ``weight_g``/``weight_v``): folded into plain weights before renaming (see model.fold_weight_norm).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.models.vits.config import VitsConfig
from voicetune.models.vits.model import fold_weight_norm

# transformers VitsConfig values our core hard-codes (VITS's own constants); anything else is refused
_FIXED = {
    "use_bias": True, "depth_separable_channels": 2, "depth_separable_num_layers": 3,
    "duration_predictor_flow_bins": 10, "duration_predictor_tail_bound": 5.0, "leaky_relu_slope": 0.1,
    "hidden_act": "relu", "layer_norm_eps": 1e-5,
}
MEL_CHANNELS = 80  # finetune-hf-vits's feature extractor: 80 mel bins, fmin 0, no fmax


def config_from_hf(hf: dict[str, Any], source: str = "config.json") -> VitsConfig:
    """transformers VitsConfig (as a dict) -> our VitsConfig; refuses what our core cannot express."""
    for key, want in _FIXED.items():
        if key in hf and hf[key] != want:
            raise VoicetuneError(f"{source}: {key}={hf[key]!r} is not supported (voicetune's VITS core uses {want!r})")
    if hf.get("duration_predictor_num_flows", 4) != 4 and hf.get("use_stochastic_duration_prediction", True):
        raise VoicetuneError(f"{source}: duration_predictor_num_flows={hf['duration_predictor_num_flows']} is not supported (4)")
    rates = tuple(int(r) for r in hf.get("upsample_rates", (8, 8, 2, 2)))
    n_fft = (int(hf.get("spectrogram_bins", 513)) - 1) * 2
    n_speakers = int(hf.get("num_speakers", 1))
    try:
        return VitsConfig(
            num_symbols=int(hf.get("vocab_size", 38)),
            n_speakers=n_speakers,
            gin_channels=int(hf.get("speaker_embedding_size", 0)) if n_speakers > 1 else 0,
            sample_rate=int(hf.get("sampling_rate", 16000)),
            filter_length=n_fft, win_length=n_fft, hop_length=math.prod(rates), mel_channels=MEL_CHANNELS,
            inter_channels=int(hf.get("flow_size", 192)),
            hidden_channels=int(hf.get("hidden_size", 192)),
            filter_channels=int(hf.get("ffn_dim", 768)),
            n_heads=int(hf.get("num_attention_heads", 2)),
            n_layers=int(hf.get("num_hidden_layers", 6)),
            kernel_size=int(hf.get("ffn_kernel_size", 3)),
            p_dropout=float(hf.get("hidden_dropout", 0.1)),
            window_size=int(hf.get("window_size", 4)),
            use_sdp=bool(hf.get("use_stochastic_duration_prediction", True)),
            sdp_n_flows=int(hf.get("duration_predictor_num_flows", 4)),
            dp_kernel_size=int(hf.get("duration_predictor_kernel_size", 3)),
            dp_p_dropout=float(hf.get("duration_predictor_dropout", 0.5)),
            dp_filter_channels=int(hf.get("duration_predictor_filter_channels", 256)),
            flow_n_flows=int(hf.get("prior_encoder_num_flows", 4)),
            flow_n_layers=int(hf.get("prior_encoder_num_wavenet_layers", 4)),
            flow_kernel_size=int(hf.get("wavenet_kernel_size", 5)),
            flow_dilation_rate=int(hf.get("wavenet_dilation_rate", 1)),
            posterior_n_layers=int(hf.get("posterior_encoder_num_wavenet_layers", 16)),
            posterior_kernel_size=int(hf.get("wavenet_kernel_size", 5)),
            posterior_dilation_rate=int(hf.get("wavenet_dilation_rate", 1)),
            resblock="1",  # transformers' VitsHifiGan only has VITS's resblock 1
            resblock_kernel_sizes=tuple(hf.get("resblock_kernel_sizes", (3, 7, 11))),
            resblock_dilation_sizes=tuple(tuple(d) for d in hf.get("resblock_dilation_sizes", ((1, 3, 5),) * 3)),
            upsample_rates=rates,
            upsample_initial_channel=int(hf.get("upsample_initial_channel", 512)),
            upsample_kernel_sizes=tuple(hf.get("upsample_kernel_sizes", (16, 16, 4, 4))),
        )
    except (TypeError, ValueError) as exc:
        raise VoicetuneError(f"{source}: not a usable VITS config ({exc})") from None


def config_to_hf(c: VitsConfig, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Our config -> transformers VitsConfig kwargs (on top of the base model's own config)."""
    if c.resblock != "1":
        raise VoicetuneError("this voice uses Piper's resblock-2 decoder, which transformers' VitsHifiGan cannot "
                             "hold; export it with --format piper")
    if c.posterior_kernel_size != c.flow_kernel_size or c.posterior_dilation_rate != c.flow_dilation_rate:
        raise VoicetuneError("flow and posterior encoder WaveNets differ in kernel/dilation: transformers shares them")
    if c.filter_length != c.win_length:
        raise VoicetuneError(f"win_length {c.win_length} != filter_length {c.filter_length}: transformers cannot say so")
    out = {k: v for k, v in (base or {}).items() if not k.startswith("_")}
    out.update(
        model_type="vits", vocab_size=c.num_symbols, hidden_size=c.hidden_channels, num_hidden_layers=c.n_layers,
        num_attention_heads=c.n_heads, window_size=c.window_size, ffn_dim=c.filter_channels,
        ffn_kernel_size=c.kernel_size, flow_size=c.inter_channels, spectrogram_bins=c.spec_channels,
        use_stochastic_duration_prediction=c.use_sdp, num_speakers=c.n_speakers,
        speaker_embedding_size=c.gin_channels if c.n_speakers > 1 else 0,
        upsample_initial_channel=c.upsample_initial_channel, upsample_rates=list(c.upsample_rates),
        upsample_kernel_sizes=list(c.upsample_kernel_sizes), resblock_kernel_sizes=list(c.resblock_kernel_sizes),
        resblock_dilation_sizes=[list(d) for d in c.resblock_dilation_sizes],
        duration_predictor_kernel_size=c.dp_kernel_size, duration_predictor_dropout=c.dp_p_dropout,
        duration_predictor_num_flows=c.sdp_n_flows, duration_predictor_filter_channels=c.dp_filter_channels,
        prior_encoder_num_flows=c.flow_n_flows, prior_encoder_num_wavenet_layers=c.flow_n_layers,
        posterior_encoder_num_wavenet_layers=c.posterior_n_layers, wavenet_kernel_size=c.flow_kernel_size,
        wavenet_dilation_rate=c.flow_dilation_rate, sampling_rate=c.sample_rate,
    )
    return out


# ------------------------------------------------------------------------------------- names
_LN = {"weight": "gamma", "bias": "beta"}
_DDS = [("convs_dilated", "convs_sep"), ("convs_pointwise", "convs_1x1")]
_ATTN = {"q_proj": "conv_q", "k_proj": "conv_k", "v_proj": "conv_v", "out_proj": "conv_o"}


def _dds_to_ours(rest: str) -> str:
    for theirs, ours in _DDS:
        rest = rest.replace(theirs, ours)
    return re.sub(r"^(norms_[12]\.\d+)\.(weight|bias)$", lambda m: f"{m[1]}.{_LN[m[2]]}", rest)


def _dds_to_hf(rest: str) -> str:
    for theirs, ours in _DDS:
        rest = rest.replace(ours, theirs)
    return re.sub(r"^(norms_[12]\.\d+)\.(gamma|beta)$", lambda m: f"{m[1]}.{ {'gamma': 'weight', 'beta': 'bias'}[m[2]] }", rest)


def _sdp_flow_to_ours(prefix: str, k: int, rest: str) -> str:
    if k == 0:
        return f"{prefix}.0." + {"translate": "m", "log_scale": "logs"}[rest]
    rest = rest.replace("conv_pre.", "pre.", 1).replace("conv_proj.", "proj.", 1)
    if rest.startswith("conv_dds."):
        rest = "convs." + _dds_to_ours(rest.removeprefix("conv_dds."))
    return f"{prefix}.{2 * k - 1}.{rest}"


def hf_key_to_ours(key: str) -> str | None:
    """A (weight-norm folded) transformers VitsModel key -> our key; None for keys we do not hold."""
    if m := re.fullmatch(r"text_encoder\.encoder\.layers\.(\d+)\.(.+)", key):
        i, rest = m[1], m[2]
        if a := re.fullmatch(r"attention\.(q_proj|k_proj|v_proj|out_proj)\.(weight|bias)", rest):
            return f"enc_p.encoder.attn_layers.{i}.{_ATTN[a[1]]}.{a[2]}"
        if a := re.fullmatch(r"attention\.(emb_rel_[kv])", rest):
            return f"enc_p.encoder.attn_layers.{i}.{a[1]}"
        if a := re.fullmatch(r"(layer_norm|final_layer_norm)\.(weight|bias)", rest):
            return f"enc_p.encoder.norm_layers_{1 if a[1] == 'layer_norm' else 2}.{i}.{_LN[a[2]]}"
        if a := re.fullmatch(r"feed_forward\.(conv_[12]\.(?:weight|bias))", rest):
            return f"enc_p.encoder.ffn_layers.{i}.{a[1]}"
        return None
    simple = {
        "text_encoder.embed_tokens.weight": "enc_p.emb.weight", "embed_speaker.weight": "emb_g.weight",
    }
    if key in simple:
        return simple[key]
    if m := re.fullmatch(r"text_encoder\.project\.(weight|bias)", key):
        return f"enc_p.proj.{m[1]}"
    if m := re.fullmatch(r"flow\.flows\.(\d+)\.(conv_pre|wavenet|conv_post)\.(.+)", key):
        part = {"conv_pre": "pre", "wavenet": "enc", "conv_post": "post"}[m[2]]
        return f"flow.flows.{2 * int(m[1])}.{part}.{m[3]}"
    if m := re.fullmatch(r"posterior_encoder\.(conv_pre|wavenet|conv_proj)\.(.+)", key):
        return f"enc_q.{ {'conv_pre': 'pre', 'wavenet': 'enc', 'conv_proj': 'proj'}[m[1]] }.{m[2]}"
    if m := re.fullmatch(r"decoder\.(.+)", key):
        return "dec." + m[1].replace("upsampler.", "ups.", 1)
    if m := re.fullmatch(r"duration_predictor\.(.+)", key):
        rest = m[1]
        if f := re.fullmatch(r"(flows|post_flows)\.(\d+)\.(.+)", rest):
            return _sdp_flow_to_ours(f"dp.{f[1]}", int(f[2]), f[3])
        if f := re.fullmatch(r"(post_)?conv_dds\.(.+)", rest):
            return f"dp.{f[1] or ''}convs.{_dds_to_ours(f[2])}"
        if f := re.fullmatch(r"(post_)?conv_(pre|proj)\.(weight|bias)", rest):
            return f"dp.{f[1] or ''}{f[2]}.{f[3]}"
        if f := re.fullmatch(r"(norm_[12])\.(weight|bias)", rest):  # deterministic predictor
            return f"dp.{f[1]}.{_LN[f[2]]}"
        return f"dp.{rest}"  # conv_1, conv_2, proj, cond
    return None


def ours_key_to_hf(key: str, sdp: bool = True) -> str | None:
    """Inverse of hf_key_to_ours (``sdp``: the model has the stochastic duration predictor)."""
    if not sdp and key.startswith("dp."):  # deterministic predictor: same names but LayerNorm's
        if m := re.fullmatch(r"dp\.(norm_[12])\.(gamma|beta)", key):
            return f"duration_predictor.{m[1]}.{ {'gamma': 'weight', 'beta': 'bias'}[m[2]] }"
        return "duration_predictor." + key.removeprefix("dp.")
    if m := re.fullmatch(r"enc_p\.encoder\.attn_layers\.(\d+)\.(conv_[qkvo])\.(weight|bias)", key):
        inv = {v: k for k, v in _ATTN.items()}
        return f"text_encoder.encoder.layers.{m[1]}.attention.{inv[m[2]]}.{m[3]}"
    if m := re.fullmatch(r"enc_p\.encoder\.attn_layers\.(\d+)\.(emb_rel_[kv])", key):
        return f"text_encoder.encoder.layers.{m[1]}.attention.{m[2]}"
    if m := re.fullmatch(r"enc_p\.encoder\.norm_layers_([12])\.(\d+)\.(gamma|beta)", key):
        name = "layer_norm" if m[1] == "1" else "final_layer_norm"
        return f"text_encoder.encoder.layers.{m[2]}.{name}.{ {'gamma': 'weight', 'beta': 'bias'}[m[3]] }"
    if m := re.fullmatch(r"enc_p\.encoder\.ffn_layers\.(\d+)\.(.+)", key):
        return f"text_encoder.encoder.layers.{m[1]}.feed_forward.{m[2]}"
    simple = {"enc_p.emb.weight": "text_encoder.embed_tokens.weight", "emb_g.weight": "embed_speaker.weight"}
    if key in simple:
        return simple[key]
    if m := re.fullmatch(r"enc_p\.proj\.(weight|bias)", key):
        return f"text_encoder.project.{m[1]}"
    if m := re.fullmatch(r"flow\.flows\.(\d+)\.(pre|enc|post)\.(.+)", key):
        part = {"pre": "conv_pre", "enc": "wavenet", "post": "conv_post"}[m[2]]
        return f"flow.flows.{int(m[1]) // 2}.{part}.{m[3]}"
    if m := re.fullmatch(r"enc_q\.(pre|enc|proj)\.(.+)", key):
        return f"posterior_encoder.{ {'pre': 'conv_pre', 'enc': 'wavenet', 'proj': 'conv_proj'}[m[1]] }.{m[2]}"
    if m := re.fullmatch(r"dec\.(.+)", key):
        return "decoder." + m[1].replace("ups.", "upsampler.", 1)
    if m := re.fullmatch(r"dp\.(flows|post_flows)\.(\d+)\.(.+)", key):
        i, rest = int(m[2]), m[3]
        if i == 0:
            return f"duration_predictor.{m[1]}.0." + {"m": "translate", "logs": "log_scale"}[rest]
        rest = rest.replace("pre.", "conv_pre.", 1) if rest.startswith("pre.") else rest
        rest = rest.replace("proj.", "conv_proj.", 1) if rest.startswith("proj.") else rest
        if rest.startswith("convs."):
            rest = "conv_dds." + _dds_to_hf(rest.removeprefix("convs."))
        return f"duration_predictor.{m[1]}.{(i + 1) // 2}.{rest}"
    if m := re.fullmatch(r"dp\.(post_)?convs\.(.+)", key):
        return f"duration_predictor.{m[1] or ''}conv_dds.{_dds_to_hf(m[2])}"
    if m := re.fullmatch(r"dp\.(post_)?(pre|proj)\.(weight|bias)", key):
        return f"duration_predictor.{m[1] or ''}conv_{m[2]}.{m[3]}"
    if m := re.fullmatch(r"dp\.(.+)", key):  # the SDP's speaker conditioning
        return f"duration_predictor.{m[1]}"
    return None


def _is_attention_proj(ours_key: str) -> bool:
    return bool(re.fullmatch(r"enc_p\.encoder\.attn_layers\.\d+\.conv_[qkvo]\.weight", ours_key))


def state_from_hf(hf_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers state dict -> (our plain state dict, transformers keys we did not map)."""
    out, unused = {}, []
    for k, v in fold_weight_norm(hf_state).items():
        ours = hf_key_to_ours(k)
        if ours is None:
            unused.append(k)
            continue
        v = v.detach().float()
        out[ours] = v.unsqueeze(-1) if _is_attention_proj(ours) and v.dim() == 2 else v
    return out, unused


def state_to_hf(plain: dict[str, torch.Tensor], hf_model: torch.nn.Module, sdp: bool = True) -> dict[str, torch.Tensor]:
    """Our plain state dict -> a state dict ``hf_model`` loads strictly (weight norm re-split as
    g = ||w||, v = w where the transformers module is weight-normed)."""
    target = hf_model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for k, v in plain.items():
        hf = ours_key_to_hf(k, sdp)
        if hf is None:
            raise VoicetuneError(f"internal: no transformers name for {k}")
        if _is_attention_proj(k):
            v = v.squeeze(-1)
        base = hf.removesuffix(".weight")
        g_key, v_key = f"{base}.parametrizations.weight.original0", f"{base}.parametrizations.weight.original1"
        if hf.endswith(".weight") and g_key in target:
            out[g_key] = torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)
            out[v_key] = v.clone()
        else:
            out[hf] = v.clone()
    return out
