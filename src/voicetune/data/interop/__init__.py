"""Datasets of other tools in and out: `voicetune dataset import` (LJSpeech, piper1-gpl's training
CSV, coqui/AllTalk -> a dataset folder, through prepare's clip checks) and `voicetune dataset export`
(a dataset folder's clips -> LJSpeech, piper or a Hugging Face ``save_to_disk`` folder)."""

from voicetune.data.interop.exporter import EXPORT_FORMATS, export_dataset
from voicetune.data.interop.importer import ImportOptions, import_dataset
from voicetune.data.interop.layouts import FORMATS

__all__ = ["EXPORT_FORMATS", "FORMATS", "ImportOptions", "export_dataset", "import_dataset"]
