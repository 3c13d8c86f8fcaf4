"""`voicetune say`: text -> wav with any voice (Piper .onnx, voice folder, checkpoint, `joe`)."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.devices import CHOICES


def say(
    text: str = typer.Argument(None, help="What to say. Long text is split at sentence ends. Omit when --lines is given."),
    voice: str = typer.Option(
        ..., "--voice", "-v", help="A Piper voice .onnx (its .onnx.json next to it), a voice folder, a Piper .ckpt, a transformers VITS (MMS) folder, an XTTS folder, a fine-tuning run (its best checkpoint) or checkpoint folder, or [bold]joe[/]."
    ),
    output: Path = typer.Option(
        None, "-o", "--output", help="Wav file to write (default: say.wav); with --lines, the folder for numbered wavs."
    ),
    speaker: str = typer.Option(None, "--speaker", help="Speaker name or id of a multi-speaker voice."),
    length_scale: float = typer.Option(None, "--length-scale", help="Speaking slowness: >1 slower, <1 faster (voice default, usually 1.0)."),
    noise_scale: float = typer.Option(None, "--noise-scale", help="Variation of the voice (voice default, usually 0.667; 0 = deterministic)."),
    noise_w: float = typer.Option(None, "--noise-w", help="Variation of phoneme durations (voice default, usually 0.8; 0 = deterministic)."),
    seed: int = typer.Option(None, "--seed", help="Seed for the random parts: same seed, same audio."),
    device: str = typer.Option("auto", "--device", help=f"Device for synthesis: {CHOICES} (auto: a GPU if there is one)."),
    lines: Path = typer.Option(None, "--lines", help="Text file, one utterance per line -> 0001.wav, 0002.wav ... in the -o folder."),
    sentence_silence: float = typer.Option(0.2, "--sentence-silence", help="Seconds of silence between sentences."),
    clean: bool = typer.Option(False, "--clean/--no-clean", help="Spell out numbers, currency and symbols before "
                               "phonemizing (the normaliser prepare uses for transcripts)."),
    threads: int = typer.Option(
        None, "--threads", help="CPU threads for synthesis (default: all cores; 1 is steadier when other jobs share the CPU)."
    ),
    speaker_wav: list[Path] = typer.Option(None, "--speaker-wav", help="XTTS: reference clip(s) of the voice (default: the folder's reference.wav)."),
    language: str = typer.Option(None, "--language", help="XTTS: language code (default: the voice's own)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --lines: replace the numbered wavs an earlier "
                                   "`say --lines` wrote in the -o folder."),
) -> None:
    """Speak text with a voice and write a wav.

    Uses voicetune's own VITS engine on the voice's weights; a Piper voice sounds exactly as it does in piper-tts. Sentences are synthesized one by one and joined with a short pause.

    Examples:

      voicetune say "Hello there." --voice joe -o hello.wav

      voicetune say "Slower, please." -v en_US-joe-medium.onnx --length-scale 1.2 -o slow.wav

      voicetune say -v voices/anna --lines prompts.txt -o samples/

      voicetune say "Same every time." -v joe --seed 7 --noise-scale 0.5 -o fixed.wav
    """
    from voicetune.commands.progress import console
    from voicetune.folders import check_output, check_output_file
    from voicetune.models.vits.errors import VoiceError
    from voicetune.synth import SAY_LINES, load_voice, say_lines
    from voicetune.synth import say as run_say

    if lines is None and not text:
        raise VoiceError("nothing to say: give TEXT or --lines FILE")
    if lines is not None and text:
        raise VoiceError("give either TEXT or --lines FILE, not both")
    # the output is checked before the voice loads and speaks: a bad -o fails in a second
    if lines is not None:
        check_output(output or Path("say"), SAY_LINES, overwrite=overwrite)
    else:
        check_output_file(output or Path("say.wav"))
    from voicetune import backends

    xtts = backends.for_voice(voice).name == "xtts"
    if xtts:
        _refuse({"--speaker": speaker, "--length-scale": length_scale, "--noise-scale": noise_scale,
                 "--noise-w": noise_w, "--clean": clean or None}, "an XTTS voice", "--speaker-wav, --language, --seed")
    else:
        _refuse({"--speaker-wav": speaker_wav or None, "--language": language}, "a Piper/VITS voice",
                "--speaker, --length-scale, --noise-scale, --noise-w, --clean, --seed")
    speaker_arg: int | str | None = int(speaker) if speaker is not None and speaker.isdigit() else speaker
    opts = dict(
        speaker=speaker_arg,
        length_scale=length_scale,
        noise_scale=noise_scale,
        noise_w=noise_w,
        seed=seed,
        sentence_silence=sentence_silence,
        clean=clean,
    )
    if threads:
        import torch

        torch.set_num_threads(max(1, threads))
    if xtts:
        from voicetune.models.xtts.cli import say_xtts_cli

        say_xtts_cli(text, voice, output, lines=lines, speaker_wav=speaker_wav, language=language, seed=seed,
                     device=device, sentence_silence=sentence_silence, overwrite=overwrite)
        return
    v = load_voice(voice, device=device)
    if lines is not None:
        out_dir = output or Path("say")
        written = say_lines(lines, v, out_dir, overwrite=overwrite, **opts)
        console.print(f"wrote {len(written)} wav(s) to {out_dir}/ ({v.sample_rate} Hz)")
        return
    out = output or Path("say.wav")
    audio, sr = run_say(text, v, out, **opts)
    console.print(f"wrote {out} ({len(audio) / sr:.2f} s, {sr} Hz)")


def _refuse(flags: dict[str, object], kind: str, supported: str) -> None:
    from voicetune.models.vits.errors import VoiceError

    used = [f for f, v in flags.items() if v is not None]
    if used:
        raise VoiceError(f"{', '.join(used)}: not used by {kind}, which takes {supported}; drop "
                         f"{'them' if len(used) > 1 else 'it'}")
