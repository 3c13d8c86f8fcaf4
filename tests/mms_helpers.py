"""Shared pieces for the MMS tests: tiny transformers VITS folders (random weights, saved with
save_pretrained, a vocab with Spanish characters) and a small dataset of real speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPANISH_VOCAB = list("_ abcdefghijklmnopqrstuvwxyzáéíóúñü¿¡'-")
# Joe reads these (English, no digits: every letter is in the Spanish vocab above)
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there, how are you doing today?",
    "She sells sea shells by the sea shore.",
    "A rainbow appeared after the storm had passed.",
    "Please close the window before you leave.",
    "The library opens early on weekday mornings.",
    "We walked along the river until sunset.",
    "Fresh bread smells wonderful in the morning.",
]
RATE = 8000


def tiny_hf_config(vocab_size: int, **overrides):
    import transformers

    base = dict(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, ffn_dim=64, flow_size=16, spectrogram_bins=65,
        upsample_initial_channel=32, upsample_rates=[8, 4], upsample_kernel_sizes=[16, 8], resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 2]], prior_encoder_num_wavenet_layers=2, posterior_encoder_num_wavenet_layers=2,
        duration_predictor_filter_channels=32, sampling_rate=RATE, noise_scale=0.0, noise_scale_duration=0.0,
    )
    base.update(overrides)
    return transformers.VitsConfig(**base)


def make_hf_folder(folder: Path, *, vocab: list[str] | None = None, is_uroman: bool = False, seed: int = 0,
                   readme_licence: str | None = "cc-by-nc-4.0", **overrides) -> Path:
    """A transformers VITS folder like facebook/mms-tts-*: config.json, model.safetensors, vocab.json,
    tokenizer_config.json (+ README.md with a licence), random weights."""
    import torch
    import transformers

    vocab = vocab or SPANISH_VOCAB
    torch.manual_seed(seed)
    model = transformers.VitsModel(tiny_hf_config(len(vocab), **overrides)).eval()
    with torch.no_grad():  # zero-initialised affine flows would hide a translate/log_scale mix-up
        for n, p in model.named_parameters():
            if n.endswith(("translate", "log_scale")):
                p.normal_(0, 0.1)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(vocab)}, ensure_ascii=False))
    tok = transformers.VitsTokenizer(str(folder / "vocab.json"), phonemize=False, is_uroman=is_uroman, pad_token="_",
                                     language="spa")
    tok.save_pretrained(str(folder))
    if readme_licence:
        (folder / "README.md").write_text(f"---\nlicense: {readme_licence}\ntags:\n- mms\n---\n# tiny\n")
    return folder


def hf_waveform(folder: Path, text: str, speaker_id: int | None = None) -> np.ndarray:
    import torch
    import transformers

    model = transformers.VitsModel.from_pretrained(str(folder)).eval()
    tok = transformers.VitsTokenizer.from_pretrained(str(folder))
    model.noise_scale = model.noise_scale_duration = 0.0
    with torch.no_grad():
        return model(**tok(text, return_tensors="pt"), speaker_id=speaker_id).waveform[0].numpy()


def make_dataset(root: Path, texts: list[str] | None = None, speakers: list[str] | None = None) -> Path:
    """Joe (piper-tts) reading ``texts`` at 16 kHz as a voicetune dataset folder (last 2 clips = eval)."""
    from voicetune.audio import resample, write_wav
    from voicetune.data.dataset import Clip, Dataset, save_dataset
    from voicetune.sample_data import synth_piper

    texts = texts or TEXTS
    clips, sr = synth_piper(texts)
    ds = Dataset(sample_rate=16000, language="en")
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    for i, (x, text) in enumerate(zip(clips, texts, strict=True)):
        y = resample(x, sr, 16000)
        cid = f"clip-{i:03d}"
        write_wav(root / "wavs" / f"{cid}.wav", y, 16000)
        d = round(len(y) / 16000, 3)
        ds.clips.append(Clip(id=cid, source="", start=0.0, end=d, duration=d, text=text,
                             split="eval" if i >= len(texts) - 2 else "train",
                             speaker=(speakers[i % len(speakers)] if speakers else "speaker")))
    save_dataset(ds, root)
    return root


def corr(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def make_hf_disk_dataset(path: Path) -> Path:
    """An HF DatasetDict saved with save_to_disk: Joe reading 5 sentences (speakers 7 and 9, by id),
    plus one too-short clip and one empty transcript; columns audio/sentence/speaker_id."""
    import io

    import datasets
    import soundfile as sf

    from voicetune.sample_data import synth_piper

    clips, sr = synth_piper(TEXTS[:5])
    arrays = clips + [clips[0][: sr // 4], clips[1]]
    texts = TEXTS[:5] + ["Too short.", ""]

    def wav_bytes(a):  # encoded files, as hub datasets store them (arrays would need torchcodec to encode)
        buf = io.BytesIO()
        sf.write(buf, a, sr, format="WAV")
        return buf.getvalue()

    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": wav_bytes(a), "path": f"{i}.wav"} for i, a in enumerate(arrays)],
        "sentence": texts,
        "speaker_id": [7, 7, 9, 9, 7, 7, 9],
    }).cast_column("audio", datasets.Audio())
    datasets.DatasetDict({"train": ds}).save_to_disk(str(path))
    return path
