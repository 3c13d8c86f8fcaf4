"""`voicetune say --voice XTTS_FOLDER`: the CLI side of voice.py (one text or a lines file)."""

from __future__ import annotations

from pathlib import Path


def say_xtts_cli(text: str | None, voice: str, output: Path | None, *, lines: Path | None,
                 speaker_wav: list[Path] | None, language: str | None, seed: int | None, device: str,
                 sentence_silence: float, overwrite: bool = False) -> list[Path]:
    from voicetune.audio import write_wav
    from voicetune.commands.progress import console
    from voicetune.models.xtts.voice import open_voice, say_xtts
    from voicetune.synth import read_lines, write_lines

    v = open_voice(voice, device=device)  # a folder, a run or a checkpoint
    opts = dict(speaker_wavs=speaker_wav or None, language=language, seed=seed, sentence_silence=sentence_silence)
    if lines is not None:
        out_dir = output or Path("say")
        texts = read_lines(lines)
        if not texts:
            from voicetune.errors import VoicetuneError

            raise VoicetuneError(f"{lines}: no lines to say (empty or only comments)")
        written = write_lines(out_dir, texts, lambda line: say_xtts(line, v, **opts), v.sample_rate,
                              overwrite=overwrite, source=str(lines))
        console.print(f"wrote {len(written)} wav(s) to {out_dir}/ ({v.sample_rate} Hz)")
        return written
    out = output or Path("say.wav")
    audio = say_xtts(text or "", v, **opts)
    write_wav(out, audio, v.sample_rate)
    console.print(f"wrote {out} ({len(audio) / v.sample_rate:.2f} s, {v.sample_rate} Hz)")
    return [out]
