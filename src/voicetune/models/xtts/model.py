"""coqui-tts's XTTS parts, built the way voicetune trains them: the GPT alone (no HiFi-GAN, no DVAE
resident during training), the DVAE verified key by key, the mel features XTTS expects.

Everything is coqui's model code; only construction and loading live here. Weights are read with
``weights_only=True`` (see :func:`voicetune.models.xtts.base.load_torch_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.models.xtts.base import XttsBase, load_torch_file
from voicetune.models.xtts.compat import import_coqui

SAMPLE_RATE = 22050  # GPT/DVAE input rate of XTTS v2 (config.audio.sample_rate)
# coqui's GPTTrainer builds its DVAE with these fixed hyper-parameters; the release dvae.pth matches
DVAE_KWARGS = dict(channels=80, normalization=None, positional_dims=1, codebook_dim=512, hidden_dim=512,
                   num_resnet_blocks=3, kernel_size=3, num_layers=2, use_transposed_convs=False)
# keys coqui strips when it turns a trainer checkpoint into an inference one
TRAINER_ONLY = ("torch_mel_spectrogram_style_encoder", "torch_mel_spectrogram_dvae", "dvae")


def load_tokenizer(vocab: Path):
    import_coqui()
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

    try:
        tok = VoiceBpeTokenizer(vocab_file=str(vocab))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises its own Exception subclass
        raise VoicetuneError(f"{vocab}: not a tokenizers vocab.json ({str(exc)[:80]}); use the release's vocab.json") from None
    inner = tok.tokenizer
    if inner.token_to_id("[STOP]") != 0 or inner.token_to_id("[UNK]") != 1 or inner.token_to_id("[START]") is None:
        raise VoicetuneError(f"{vocab}: XTTS needs [STOP] as id 0, [UNK] as id 1 and a [START] token; "
                             "this vocab.json is not an XTTS vocabulary")
    return tok


def model_args(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config.get("model_args") or {})


def build_gpt(args: dict[str, Any], tokenizer, *, checkpointing: bool = False) -> torch.nn.Module:
    """coqui's GPT exactly as ``Xtts.init_models`` builds it (text-token counts from the vocab)."""
    import_coqui()
    from TTS.tts.layers.xtts.gpt import GPT

    inner = tokenizer.tokenizer
    return GPT(
        layers=args.get("gpt_layers", 30), model_dim=args.get("gpt_n_model_channels", 1024),
        start_text_token=inner.token_to_id("[START]"), stop_text_token=inner.token_to_id("[STOP]"),
        heads=args.get("gpt_n_heads", 16), max_text_tokens=args.get("gpt_max_text_tokens", 402),
        max_mel_tokens=args.get("gpt_max_audio_tokens", 605), max_prompt_tokens=args.get("gpt_max_prompt_tokens", 70),
        number_text_tokens=tokenizer.get_number_tokens(), num_audio_tokens=args.get("gpt_num_audio_tokens", 8194),
        start_audio_token=args.get("gpt_start_audio_token", 8192), stop_audio_token=args.get("gpt_stop_audio_token", 8193),
        use_perceiver_resampler=args.get("gpt_use_perceiver_resampler", True),
        code_stride_len=args.get("gpt_code_stride_len", 1024), checkpointing=checkpointing,
    )


def normalize_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A model.pth's weights as Xtts keys: ``xtts.`` prefixes dropped, trainer-only parts removed."""
    if isinstance(state.get("model"), dict):
        state = state["model"]
    out = {}
    for key, value in state.items():
        key = key[5:] if key.startswith("xtts.") else key
        if key.split(".")[0] in TRAINER_ONLY:
            continue
        out[key] = value
    return out


def load_model_state(path: Path) -> dict[str, torch.Tensor]:
    raw = load_torch_file(path)
    if not isinstance(raw, dict):
        raise VoicetuneError(f"{path}: holds a {type(raw).__name__}, not XTTS weights; use the release's model.pth")
    state = normalize_state(raw)
    if not any(k.startswith("gpt.") for k in state):
        raise VoicetuneError(f"{path}: no gpt.* weights inside; this is not an XTTS model.pth")
    return state


def gpt_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # gpt_inference.* / gpt.wte.* exist only in checkpoints saved after init_gpt_for_inference
    return {k[4:]: v for k, v in state.items()
            if k.startswith("gpt.") and not k.startswith(("gpt.gpt_inference.", "gpt.gpt.wte."))}


def load_gpt_weights(gpt: torch.nn.Module, weights: dict[str, torch.Tensor], source: Path) -> None:
    own = gpt.state_dict()
    missing = [k for k in own if k not in weights]
    wrong = [f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in weights and weights[k].shape != v.shape]
    if missing or wrong:
        detail = f"{len(missing)} GPT weights missing (e.g. {missing[0]})" if missing else f"shape mismatch: {wrong[0]}"
        raise VoicetuneError(f"{source}: does not fit config.json/vocab.json ({detail}); "
                             "give the model.pth, config.json and vocab.json of one release")
    gpt.load_state_dict({k: weights[k] for k in own}, strict=True)


def load_dvae(path: Path, num_audio_tokens: int = 8194) -> torch.nn.Module:
    """The DVAE, refusing a file that lacks its encoder/codebook (coqui loads with strict=False and
    would silently encode audio with random weights)."""
    import_coqui()
    from TTS.tts.layers.xtts.dvae import DiscreteVAE

    dvae = DiscreteVAE(num_tokens=num_audio_tokens - 2, **DVAE_KWARGS)
    state = load_torch_file(path)
    if not isinstance(state, dict):
        raise VoicetuneError(f"{path}: not a DVAE state dict; use the release's dvae.pth")
    needed = {k: v for k, v in dvae.state_dict().items() if k.startswith(("encoder.", "codebook."))}
    missing = [k for k in needed if k not in state]
    wrong = [k for k in needed if k in state and tuple(state[k].shape) != tuple(needed[k].shape)]
    if missing or wrong:
        what = f"{len(missing)} of {len(needed)} encoder/codebook weights missing" if missing else f"wrong shape for {wrong[0]}"
        raise VoicetuneError(f"{path}: not an XTTS DVAE ({what}); use the release's dvae.pth")
    dvae.load_state_dict({k: v for k, v in state.items() if k in dvae.state_dict()}, strict=False)
    return dvae.eval()


def load_mel_stats(path: Path) -> torch.Tensor:
    stats = load_torch_file(path)
    if not isinstance(stats, torch.Tensor) or stats.shape != (80,) or not bool(torch.isfinite(stats).all()):
        raise VoicetuneError(f"{path}: expected 80 finite mel normalisation values (XTTS mel_stats.pth)")
    return stats.float().clone()


class Mels:
    """The two mel features of XTTS v2 training, as coqui's trainer computes them."""

    def __init__(self, stats: torch.Tensor):
        import_coqui()
        from TTS.tts.layers.xtts.dvae import dvae_wav_to_mel
        from TTS.tts.models.xtts import wav_to_mel_cloning

        self.stats = stats
        self._dvae, self._clone = dvae_wav_to_mel, wav_to_mel_cloning

    def dvae(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, samples) @22050 -> (B, 80, frames) for the DVAE (n_fft 1024, hop 256)."""
        return self._dvae(wav, mel_norms=self.stats)

    def cond(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, samples) @22050 -> (B, 80, frames) for the perceiver conditioning (n_fft 2048, hop 256)."""
        return self._clone(wav, mel_norms=self.stats, n_fft=2048, hop_length=256, win_length=1024, power=2,
                           normalized=False, sample_rate=SAMPLE_RATE, f_min=0, f_max=8000, n_mels=80)


def base_gpt(base: XttsBase, tokenizer=None, *, checkpointing: bool = False):
    """(GPT with the base weights, tokenizer, model_args, full base state) for a base folder."""
    tokenizer = tokenizer or load_tokenizer(base.path("vocab.json"))
    args = model_args(base.config())
    state = load_model_state(base.path("model.pth"))
    gpt = build_gpt(args, tokenizer, checkpointing=checkpointing)
    load_gpt_weights(gpt, gpt_state(state), base.path("model.pth"))
    return gpt, tokenizer, args, state
