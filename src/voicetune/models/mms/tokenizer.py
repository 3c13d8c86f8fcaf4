"""The model's own character vocabulary, with transformers ``VitsTokenizer``'s rules and a report of
what it would silently drop.

Rules (tokenization_vits.py): lower-case every character not spelled as a vocab entry
(``normalize``), romanize with uroman when the tokenizer says ``is_uroman`` and the text has a
non-ASCII character, drop characters outside the vocab, put the blank id 0 between characters
(``add_blank``). The ids are therefore exactly what ``VitsTokenizer`` gives. Differences on purpose:
- uroman runs in-process through the Python ``uroman`` package, loaded once (transformers builds a
  new ``Uroman()`` per call, ~3 s each; finetune-hf-vits runs a Perl subprocess per row);
- what would be dropped is reported: punctuation/symbols are dropped as transformers does, but
  letters and digits outside the vocab change what is said, so ``unknown_report`` lists them with
  the number of clips they affect and training refuses to start until they are fixed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError

_NON_ASCII = re.compile(r"[^\x00-\x7F]")


@lru_cache(maxsize=1)
def _uroman():
    try:
        import uroman
    except ImportError:
        raise VoicetuneError("this model's tokenizer needs uroman: `pip install uroman` (or voicetune[mms])") from None
    return uroman.Uroman()


def romanize(text: str) -> str:
    """uroman's romanization (the same package transformers calls), one instance per process."""
    return _uroman().romanize_string(text)


def _droppable(ch: str) -> bool:
    """Characters transformers strips without changing the words: punctuation, symbols, controls."""
    return unicodedata.category(ch)[0] in "PSCZ"


@dataclass
class MmsTokenizer:
    vocab: dict[str, int]
    add_blank: bool = True
    normalize: bool = True
    is_uroman: bool = False
    language: str | None = None
    pad_token: str = "<pad>"
    unk_token: str = "<unk>"
    extra: dict[str, Any] = field(default_factory=dict)  # other tokenizer_config keys, kept for export

    # ----------------------------------------------------------------------------- loading
    @classmethod
    def from_folder(cls, folder: str | Path) -> MmsTokenizer:
        folder = Path(folder)
        vocab_path, cfg_path = folder / "vocab.json", folder / "tokenizer_config.json"
        if not vocab_path.is_file():
            raise VoicetuneError(f"{vocab_path}: missing; a transformers VITS model folder needs its tokenizer's vocab.json")
        try:
            vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
            cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VoicetuneError(f"{folder}: tokenizer files are not valid JSON ({exc}); re-download the model") from None
        if not isinstance(vocab, dict) or not vocab:
            raise VoicetuneError(f"{vocab_path}: expected a non-empty {{character: id}} object")
        if cfg.get("phonemize"):
            raise VoicetuneError(f"{cfg_path}: phonemize=true (an espeak phonemizer tokenizer) is not supported; "
                                 "MMS checkpoints use characters (phonemize=false)")
        return cls.from_dict({"vocab": vocab, **cfg})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MmsTokenizer:
        known = {"add_blank", "normalize", "is_uroman", "language", "pad_token", "unk_token"}
        def token(v, default):  # special tokens may be saved as AddedToken dicts
            return v.get("content", default) if isinstance(v, dict) else (v or default)
        return cls(
            vocab={str(k): int(v) for k, v in d["vocab"].items()},
            add_blank=bool(d.get("add_blank", True)), normalize=bool(d.get("normalize", True)),
            is_uroman=bool(d.get("is_uroman", False)), language=d.get("language"),
            pad_token=token(d.get("pad_token"), "<pad>"), unk_token=token(d.get("unk_token"), "<unk>"),
            extra={k: v for k, v in d.items() if k not in known | {"vocab", "tokenizer_class", "added_tokens_decoder"}},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tokenizer_config(self) -> dict[str, Any]:
        """tokenizer_config.json for a transformers folder."""
        keys = {"add_blank", "normalize", "is_uroman", "language", "pad_token", "unk_token"}
        out = {k: v for k, v in asdict(self).items() if k in keys}
        out.update(tokenizer_class="VitsTokenizer", phonemize=False)
        return out

    @property
    def vocab_size(self) -> int:
        return max(self.vocab.values()) + 1

    # ---------------------------------------------------------------------------- encoding
    def _lower(self, text: str) -> str:
        """VitsTokenizer.normalize_text: vocab entries spelled with capitals survive, the rest is lower-cased."""
        # first match in vocab order (then the special tokens), as transformers scans them
        words = [*self.vocab, *(t for t in (self.pad_token, self.unk_token) if t not in self.vocab)]
        multi = [w for w in words if len(w) > 1 or w.lower() != w]
        if not multi:
            return text.lower()
        out, i = [], 0
        while i < len(text):
            hit = next((w for w in multi if text.startswith(w, i)), None)
            if hit:
                out.append(hit)
                i += len(hit)
            else:
                out.append(text[i].lower())
                i += 1
        return "".join(out)

    def prepare(self, text: str) -> tuple[str, list[str]]:
        """(text as the model reads it, characters dropped on the way)."""
        if self.normalize:
            text = self._lower(text)
        if self.language == "ron":
            text = text.replace("ț", "ţ")  # as transformers does for Romanian
        if self.is_uroman and _NON_ASCII.search(text):
            text = romanize(text)
        kept = [ch for ch in text if ch in self.vocab]
        dropped = [ch for ch in text if ch not in self.vocab]
        return "".join(kept).strip(), dropped

    def encode(self, text: str) -> list[int]:
        prepared, _ = self.prepare(text)
        ids = [self.vocab[ch] for ch in prepared]
        if self.add_blank and ids:  # transformers returns no ids at all for an empty text
            out = [0] * (2 * len(ids) + 1)
            out[1::2] = ids
            return out
        return ids

    def unknown_chars(self, text: str) -> list[str]:
        """Letters, digits and marks outside the vocab: dropping them would change what is said."""
        return [ch for ch in self.prepare(text)[1] if not _droppable(ch)]

    # the phonemizer interface VitsBackend.samples() uses
    def text_to_ids(self, text: str) -> list[list[int]]:
        return [self.encode(text)]


@dataclass
class UnknownReport:
    chars: dict[str, int]  # character -> number of clips containing it
    clips: list[str]  # affected clip ids
    examples: dict[str, str]  # character -> one clip text

    def __bool__(self) -> bool:
        return bool(self.chars)

    def message(self, where: str) -> str:
        listing = ", ".join(f"'{c}' U+{ord(c):04X} in {n} clip(s)" for c, n in sorted(self.chars.items(), key=lambda x: -x[1]))
        return (f"{where}: {len(self.clips)} clip(s) use characters the model's vocabulary lacks ({listing}); "
                "spell them out or replace them in metadata_train.csv/metadata_eval.csv, "
                "or pass --skip-unknown-chars to leave those clips out")


def unknown_report(tokenizer: MmsTokenizer, clips) -> UnknownReport:
    """Over clips with ``.id`` and ``.text``: which out-of-vocab letters/digits, in how many clips."""
    counts: Counter[str] = Counter()
    affected, examples = [], {}
    for clip in clips:
        chars = set(tokenizer.unknown_chars(clip.text))
        if chars:
            affected.append(clip.id)
            counts.update(chars)
            for ch in chars:
                examples.setdefault(ch, clip.text)
    return UnknownReport(dict(counts), affected, examples)
