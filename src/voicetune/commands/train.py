"""`voicetune train`: fine-tune a voice on a prepared dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console
from voicetune.trainer.config import TrainConfig

_D = {k: f.default for k, f in TrainConfig.model_fields.items()}  # the defaults help quotes: one source


def train(
    dataset: Path = typer.Option(None, "--dataset", "-d", help="Dataset folder from `voicetune prepare`."),
    base: str = typer.Option(None, "--base", "-b", help="`joe`, a Piper .onnx/.ckpt, a transformers VITS folder or "
                             "hub id (MMS), or an earlier run folder."),
    output: Path = typer.Option(None, "-o", "--output", help="New run folder."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (engine keys + a `vits:` section), or a "
                                "finetune-hf-vits .json config."),
    resume: Path = typer.Option(None, "--resume", help="Continue this run folder exactly where it stopped."),
    epochs: int = typer.Option(None, "--epochs", help=f"Passes over the training clips (default: {_D['epochs']}; none "
                               "with --max-minutes alone, which sizes the run from a timed step)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Optimizer steps; the first limit reached ends the run "
                                  "(default: none)."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Wall-clock budget; stops with a checkpoint. Alone "
                                      "(no --epochs/--max-steps) it sizes the run (default: none)."),
    batch_size: int = typer.Option(None, "--batch-size", help=f"Clips per step (default: the advisor's, from the "
                                   f"dataset and the backend's cap; {_D['batch_size']} in a config)."),
    grad_accum: int = typer.Option(None, "--grad-accum", help=f"Batches summed per optimizer step (default: "
                                   f"{_D['grad_accum']}; XTTS small-data: the advisor's)."),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate (default: 2e-4 for VITS/MMS; XTTS: its recipe's, "
                             "see --print-config --backend xtts)."),
    optimizer: str = typer.Option(None, "--optimizer", help="adamw | adam | sgd | rmsprop (default: adamw)."),
    scheduler: str = typer.Option(None, "--scheduler", help="exponential | cosine_restarts | step | constant "
                                  "(default: exponential (Piper's); XTTS: cosine_restarts)."),
    eval_every: int = typer.Option(None, "--eval-every", help="Optimizer steps between evals (default: about 10 evals over the run)."),
    save_every: int = typer.Option(None, "--save-every", help="Optimizer steps between checkpoints (default: at "
                                   "every eval)."),
    keep: int = typer.Option(None, "--keep", help=f"Checkpoints kept by the selection metric (plus the last) "
                             f"(default: {_D['keep_top_k']})."),
    seed: int = typer.Option(None, "--seed", help=f"Seed of the data order and the model's noise (default: {_D['seed']})."),
    device: str = typer.Option(None, "--device", help="auto | cpu | cuda | mps (default: auto: a GPU if there is one)."),
    precision: str = typer.Option(None, "--precision", help=f"no | bf16 | fp16 | auto (default: {_D['precision']})."),
    freeze: list[str] = typer.Option(None, "--freeze", help="Also freeze this group all run (enc_p, dp, flow, enc_q, "
                                     "dec, emb_g), added to the default; `--freeze none` starts from nothing."),
    train: list[str] = typer.Option(None, "--train", help="Train this group that the default (or vits.freeze) "
                                    "keeps frozen, e.g. --train dec."),
    speaker: str = typer.Option(None, "--speaker", help="Train on this dataset speaker's clips only (without it, "
                                "several speakers on a single-speaker base make the model multi-speaker)."),
    bootstrap_steps: int = typer.Option(None, "--bootstrap-steps", help="Posterior-encoder distillation steps "
                                        "(default 900, or vits.bootstrap.enc_q_steps in --config; Piper ONNX bases; sizes every stage)."),
    backend: str = typer.Option(None, "--backend", help="vits | mms | xtts (default: from --base; a transformers VITS "
                                "folder/hub id means mms, a folder with XTTS files means xtts)."),
    speaker_column: str = typer.Option(None, "--speaker-column", help="MMS: speaker column when --dataset is a "
                                       "Hugging Face dataset (imported into RUN/dataset)."),
    filter_speaker: str = typer.Option(None, "--filter-speaker", help="MMS: train on this speaker's clips only."),
    override_speaker_embeddings: bool = typer.Option(False, "--override-speaker-embeddings",
                                                     help="MMS: a new speaker table for the dataset's speakers."),
    skip_unknown_chars: bool = typer.Option(False, "--skip-unknown-chars", help="MMS: leave out clips with "
                                            "characters outside the model's vocabulary instead of stopping."),
    select_by: str = typer.Option(
        None, "--select-by", help="loss | similarity | wer | combined: what picks the best/kept checkpoints "
        "(all but loss evaluate each checkpoint by listening: ~20-30 s each on 2 cores; default: loss, and "
        "combined for a --max-minutes run of 20 or more on English data with a Piper/VITS base)."
    ),
    preset: str = typer.Option(None, "--preset", help="XTTS: small-data (few minutes of audio: low LR, "
                               "accumulation, ~8 % of the GPT trainable, early stop)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Resolve every setting, time a step, an eval and a checkpoint "
                                 "on this machine, print the config and the run's estimated time, and exit (nothing "
                                 "is written)."),
    print_config: bool = typer.Option(False, "--print-config", help="Print a config YAML with every key, its default "
                                      "and meaning (for --backend or --base; all backends without them) and exit."),
) -> None:
    """Fine-tune a Piper/VITS, MMS or XTTS voice on a dataset.

    A base that came from ONNX has no posterior encoder: it is re-learned first by distillation
    from the base itself (cached per base voice). Ctrl+C saves a checkpoint; --resume continues.
    The dataset is validated first. A flag the chosen backend does not use is an error.

    Examples:

      voicetune train --dataset my-voice --base joe -o runs/anna --max-minutes 30

      voicetune train -d my-voice -b en_US-lessac-medium.onnx -o runs/anna --epochs 200 --train dec

      voicetune train --resume runs/anna --max-minutes 30

      voicetune train -d my-voice -b joe -o runs/anna --max-minutes 30 --dry-run

      voicetune train -d my-spanish -b facebook/mms-tts-spa -o runs/spa --max-minutes 60

      voicetune train --config finetune_spanish.json -o runs/spa
    """
    if print_config:
        from voicetune import backends
        from voicetune.commands.progress import results
        from voicetune.trainer.config_doc import sample_config

        chosen = [backends.get(backend)] if backend else [backends.for_base(base)] if base else backends.all_backends()
        sections = {k: v for b in chosen for k, v in b.config_sections().items()}
        results.print(sample_config(sections), markup=False, highlight=False, soft_wrap=True, end="")
        return
    from voicetune.api import train as run_train

    run_train(dataset, base, output, config=config, resume=resume, backend=backend, epochs=epochs,
              max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size, grad_accum=grad_accum, lr=lr,
              optimizer=optimizer, scheduler=scheduler, eval_every=eval_every, save_every=save_every, keep=keep,
              seed=seed, device=device, precision=precision, freeze=freeze or None, train=train or None,
              speaker=speaker, bootstrap_steps=bootstrap_steps, select_by=select_by, preset=preset,
              speaker_column=speaker_column, filter_speaker=filter_speaker,
              override_speaker_embeddings=override_speaker_embeddings, skip_unknown_chars=skip_unknown_chars,
              show_progress=not quiet, dry_run=dry_run, log=console.print)
