"""MMS / transformers VITS backend: ``facebook/mms-tts-*`` style models fine-tuned through our own
VITS core and trainer engine, and handed back to transformers.

- ``convert``: transformers ``VitsConfig``/weights <-> our ``VitsConfig``/state dict (by name)
- ``import_hf``: a transformers VITS folder or hub id -> ``MmsImport`` (model, tokenizer, report)
- ``tokenizer``: the model's own character vocabulary (``VitsTokenizer`` rules, Python uroman)
- ``features``/``run``: training items from the tokenizer, the backend for ``voicetune train``
- ``export_hf``: a run -> a folder ``transformers.pipeline("text-to-speech", FOLDER)`` loads
- ``hf_config``: finetune-hf-vits JSON configs -> our training config
- ``hf_dataset``: ``voicetune dataset import-hf``
"""
