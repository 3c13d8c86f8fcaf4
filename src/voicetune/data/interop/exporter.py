"""`voicetune dataset export`: a dataset's train and eval clips (not its quarantine) in another
tool's layout, each written so that tool's own reader reads it back:

- ljspeech: ``metadata.csv`` with ``id|text|text`` rows (coqui's ``ljspeech`` formatter needs the
  third, normalized column), ``wavs/<id>.wav``; one speaker, no split in this layout;
- piper: piper1-gpl's training CSV ``<id>.wav|text`` (``<id>.wav|speaker|text`` with several
  speakers) written by ``csv.writer`` because piper reads it with ``csv.reader`` (a text starting
  with a quote comes back as written), audio in ``wavs/`` (``--data.audio_dir``); piper draws its
  own validation split;
- hf: ``datasets.DatasetDict`` saved with ``save_to_disk``: ``train`` and ``test`` (our eval)
  splits, columns ``audio`` (the wav bytes, an ``Audio`` feature), ``text``, ``speaker``, ``id``.

The wavs are hard-linked from the dataset (copied across filesystems). ``voicetune-export.json``
marks the folder as ours (so ``--overwrite`` may replace it) and lists the eval clips where the
layout cannot hold the split.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.data.dataset import Clip, Dataset, load_dataset
from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json, write_text
from voicetune.folders import DATASET_EXPORT, EXPORT_MARKER, FolderBuild, check_output, is_inside, link_file

EXPORT_FORMATS = ("ljspeech", "piper", "hf")
MARKER_VERSION = 1


@dataclass
class ExportResult:
    output: Path
    format: str
    train: int
    eval: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.output}: {self.train + self.eval} clips ({self.train} train / {self.eval} eval) as {self.format}"


def _clips(ds: Dataset) -> list[Clip]:
    return ds.train + ds.eval


def _link_wavs(ds: Dataset, root: Path, tmp: Path) -> None:
    for c in _clips(ds):
        link_file(root / c.audio_file, tmp / "wavs" / f"{c.id}.wav")


def _ljspeech(ds: Dataset, root: Path, tmp: Path, out: Path) -> list[str]:
    _link_wavs(ds, root, tmp)
    write_text(tmp / "metadata.csv", "".join(f"{c.id}|{c.text}|{c.text}\n" for c in _clips(ds)))
    notes = [f"the LJSpeech layout has no split: the {len(ds.eval)} eval clips are listed in {out / EXPORT_MARKER}"]
    if len(ds.speakers()) > 1:
        notes.append(f"the LJSpeech layout has one speaker: the {len(ds.speakers())} speakers' names are not kept "
                     "(use --format piper or hf)")
    return notes


def _piper(ds: Dataset, root: Path, tmp: Path, out: Path) -> list[str]:
    _link_wavs(ds, root, tmp)
    speakers = ds.speakers()
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="|", lineterminator="\n")
    for c in _clips(ds):
        writer.writerow([f"{c.id}.wav", c.speaker, c.text] if len(speakers) > 1 else [f"{c.id}.wav", c.text])
    write_text(tmp / "metadata.csv", buf.getvalue())
    flags = f" --model.num_speakers {len(speakers)}" if len(speakers) > 1 else ""
    return [f"train with piper: python -m piper.train fit --data.csv_path {out / 'metadata.csv'} --data.audio_dir "
            f"{out / 'wavs'} --model.sample_rate {ds.sample_rate}{flags} (plus your voice, espeak voice and cache "
            f"flags); piper draws its own validation split: our {len(ds.eval)} eval clips are listed in "
            f"{out / EXPORT_MARKER}"]


def _hf(ds: Dataset, root: Path, tmp: Path, out: Path) -> list[str]:
    try:
        import datasets
    except ImportError:
        raise VoicetuneError("export --format hf needs the datasets package: `pip install 'voicetune[mms]'`") from None

    def split(clips: list[Clip]):
        # encoded bytes, not arrays: encoding arrays needs torchcodec in datasets >= 4
        return datasets.Dataset.from_dict({
            "audio": [{"bytes": (root / c.audio_file).read_bytes(), "path": f"{c.id}.wav"} for c in clips],
            "text": [c.text for c in clips],
            "speaker": [c.speaker for c in clips],
            "id": [c.id for c in clips],
        }).cast_column("audio", datasets.Audio(sampling_rate=ds.sample_rate))

    splits = {"train": split(ds.train)}
    if ds.eval:
        splits["test"] = split(ds.eval)
    datasets.DatasetDict(splits).save_to_disk(str(tmp))
    return []


_WRITERS = {"ljspeech": _ljspeech, "piper": _piper, "hf": _hf}


def export_dataset(dataset: str | os.PathLike, output: str | os.PathLike, fmt: str, *, overwrite: bool = False,
                   log=print) -> ExportResult:
    """Write the clips of ``dataset`` into the new folder ``output`` in layout ``fmt``."""
    dataset, output = Path(dataset), Path(output)
    if fmt not in EXPORT_FORMATS:
        raise VoicetuneError(f"--format {fmt}: unknown; choose one of {', '.join(EXPORT_FORMATS)}")
    ds = load_dataset(dataset)
    if is_inside(output, dataset):
        raise VoicetuneError(f"{output}: lies inside the dataset {dataset}; write the export somewhere else")
    check_output(output, DATASET_EXPORT, inputs=[dataset], overwrite=overwrite, log=log)
    if not ds.clips:
        raise VoicetuneError(f"{dataset}: has no clips to export (all quarantined?); see {dataset / 'report.md'}")
    missing = [c.audio_file for c in _clips(ds) if not (dataset / c.audio_file).is_file()]
    if missing:
        raise VoicetuneError(f"{dataset / missing[0]}: missing ({len(missing)} clip file(s) in all); run "
                             f"`voicetune dataset validate {dataset}`")
    build = FolderBuild(output)
    with build as tmp:
        notes = _WRITERS[fmt](ds, dataset, tmp, output)
        write_json(tmp / EXPORT_MARKER, {
            "format_version": MARKER_VERSION, "format": fmt, "dataset": str(dataset.resolve()),
            "sample_rate": ds.sample_rate, "language": ds.language, "speakers": ds.speakers(),
            "train": len(ds.train), "eval": len(ds.eval), "eval_clips": [c.id for c in ds.eval],
        })
        build.commit()
    return ExportResult(output, fmt, len(ds.train), len(ds.eval), notes)
