"""Training items for MMS: the same cached items as Piper voices (vits.features), with the ids from
the model's own character tokenizer instead of espeak phonemes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from voicetune.models.mms.tokenizer import MmsTokenizer
from voicetune.models.vits.features import CACHE_VERSION, FeatureCache


class TokenFeatureCache(FeatureCache):
    """FeatureCache keyed by the tokenizer (vocab + rules) instead of the phoneme map."""

    def __init__(self, dataset_root: Path, voice, model_config, tokenizer: MmsTokenizer):
        self.root = Path(dataset_root)
        self.voice, self.cfg = voice, model_config
        self.phonemizer = self.tokenizer = tokenizer  # VitsBackend.samples() calls text_to_ids on it
        fingerprint = json.dumps(
            [CACHE_VERSION, "mms", sorted(tokenizer.vocab.items()), tokenizer.add_blank, tokenizer.normalize,
             tokenizer.is_uroman, tokenizer.language, voice.sample_rate, model_config.filter_length,
             model_config.hop_length, model_config.win_length],
            sort_keys=True,
        )
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.dir = self.root / ".cache" / f"vits-v{CACHE_VERSION}"
        self.hits = 0

    def ids_for(self, text: str) -> tuple[list[int], list[str]]:
        ids = self.tokenizer.encode(text)
        if not ids:
            return ids, ["(nothing in the text is in the model's vocabulary)"]
        return ids, sorted(set(self.tokenizer.unknown_chars(text)))
