"""Build an XTTS v2 base folder with random weights, laid out like the real release.

The real checkpoint cannot be downloaded everywhere (and not in CI); tests and the benchmark build
``tiny`` (2-layer, 128-dim GPT) or ``full`` (the release architecture: 30 layers, 1024 dims) bases:
config.json, model.pth, vocab.json (a small BPE: [STOP]=0, [UNK]=1 as XTTS requires),
dvae.pth, mel_stats.pth. Random weights speak noise, but every code path is the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from voicetune.fileio import write_text, write_with
from voicetune.models.xtts.compat import import_coqui
from voicetune.models.xtts.model import DVAE_KWARGS
from voicetune.models.xtts.text import BUILTIN, clean, lang_token
from voicetune.models.xtts.vocab import SPECIAL, train_bpe

SIZES = {
    # the release architecture (XTTS v2 config.json / coqui's recipe)
    "full": dict(gpt_layers=30, gpt_n_model_channels=1024, gpt_n_heads=16, gpt_max_audio_tokens=605,
                 gpt_max_text_tokens=402, decoder_input_dim=1024),
    # small enough for tests: 2 layers, 128 dims; max_audio_tokens keeps random generation short
    "tiny": dict(gpt_layers=2, gpt_n_model_channels=128, gpt_n_heads=4, gpt_max_audio_tokens=120,
                 gpt_max_text_tokens=402, decoder_input_dim=128),
}
AUDIO_TOKENS = dict(gpt_num_audio_tokens=1026, gpt_start_audio_token=1024, gpt_stop_audio_token=1025)


def make_vocab(path: Path, texts: list[str], vocab_size: int = 400) -> None:
    langs = sorted(lang_token(lg) for lg in BUILTIN)
    import string

    alphabet = list(string.ascii_lowercase + string.digits + ".,;:!?'-()")
    wire = [clean(t, "en") for t in texts] + [" ".join(alphabet)]
    tok = train_bpe(wire, vocab_size, special=SPECIAL + langs)
    data = json.loads(tok.to_str())
    assert data["model"]["vocab"]["[STOP]"] == 0 and data["model"]["vocab"]["[UNK]"] == 1
    write_text(path, json.dumps(data, ensure_ascii=False))


def make_random_base(folder: str | Path, size: str = "tiny", seed: int = 0, texts: list[str] | None = None) -> Path:
    """Write a base folder; returns it. ``size``: tiny | full."""
    import_coqui()
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.dvae import DiscreteVAE
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    from voicetune.sample_data import sentences

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    make_vocab(folder / "vocab.json", texts or sentences())
    args = XttsArgs(**SIZES[size], **AUDIO_TOKENS, gpt_use_perceiver_resampler=True,
                    gpt_use_masking_gt_prompt_approach=True)
    config = XttsConfig(model_args=args, languages=sorted(BUILTIN - {"zh"}) + ["zh-cn"])
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(folder / "vocab.json"))
    model.init_models()
    stats = 3.0 + torch.rand(80)  # positive, like the release's per-channel log-mel scales
    model.mel_stats = stats.clone()
    state = model.state_dict()
    write_with(folder / "model.pth", lambda tmp: torch.save({"model": state}, tmp))
    dvae = DiscreteVAE(num_tokens=AUDIO_TOKENS["gpt_num_audio_tokens"] - 2, **DVAE_KWARGS)
    write_with(folder / "dvae.pth", lambda tmp: torch.save(dvae.state_dict(), tmp))
    write_with(folder / "mel_stats.pth", lambda tmp: torch.save(stats, tmp))
    write_text(folder / "config.json", json.dumps(config.to_dict(), indent=2, default=str))
    return folder
