"""`voicetune doctor --base FOLDER`: an XTTS base's files, each loaded and verified."""

from __future__ import annotations

from pathlib import Path

from voicetune.doctor import Check
from voicetune.errors import VoicetuneError
from voicetune.models.xtts import model as xm
from voicetune.models.xtts.base import check_files, read_config


def xtts_base_checks(folder: str | Path) -> list[Check]:
    """`voicetune doctor --base FOLDER`: the XTTS files training needs, each loaded and verified."""
    folder = Path(folder)
    try:
        check_files(folder)
        read_config(folder / "config.json")
    except VoicetuneError as exc:
        return [Check("xtts base files", False, str(exc))]
    checks = [Check("xtts base files", True, f"{folder}: config.json, model.pth, vocab.json, dvae.pth, mel_stats.pth"
                    + (" + speakers_xtts.pth" if (folder / "speakers_xtts.pth").is_file() else ""))]
    def dvae() -> str:
        tokens = xm.model_args(read_config(folder / "config.json")).get("gpt_num_audio_tokens", 8194)
        xm.load_dvae(folder / "dvae.pth", tokens)
        return "encoder + codebook verified"

    def gpt() -> str:
        n = sum(1 for k in xm.load_model_state(folder / "model.pth") if k.startswith("gpt."))
        return f"{n} GPT tensors"

    steps = [("xtts vocab", lambda: f"{xm.load_tokenizer(folder / 'vocab.json').get_number_tokens()} tokens"),
             ("xtts dvae", dvae),
             ("xtts mel stats", lambda: f"{xm.load_mel_stats(folder / 'mel_stats.pth').shape[0]} values"),
             ("xtts model", gpt)]
    for name, fn in steps:
        try:
            checks.append(Check(name, True, fn()))
        except VoicetuneError as exc:
            checks.append(Check(name, False, str(exc)))
    return checks
