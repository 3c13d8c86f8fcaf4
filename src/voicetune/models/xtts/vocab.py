"""Vocabulary extension for a new language or new spellings (seed 003).

A BPE is trained on the dataset's cleaned text with the ``tokenizers`` library; its tokens (and
their merges) that the base vocabulary lacks are appended after the base ids, plus a ``[xx]``
language token. The base ids never move, so every trained row keeps its meaning. The text
embedding and text head grow to the new size and the new rows start as the **mean** of the
existing rows (random rows destabilised seed 003's run: they produce large logits for tokens
the model has never seen).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from voicetune.fileio import write_text
from voicetune.models.xtts.text import base_language, clean, lang_token

TEXT_ROWS = ("text_embedding.weight", "text_head.weight", "text_head.bias")
SPECIAL = ["[STOP]", "[UNK]", "[SPACE]", "[START]"]


@dataclass
class Extension:
    language: str
    added_tokens: int
    added_merges: int
    language_token_added: bool
    size_before: int
    size_after: int

    def line(self) -> str:
        return (f"vocabulary {self.size_before} -> {self.size_after} tokens ({self.added_tokens} from a BPE on the "
                f"dataset, {self.added_merges} merges" + (f", new language token {lang_token(self.language)}"
                                                          if self.language_token_added else "") + ")")


def _wire(texts: list[str], lang: str) -> list[str]:
    # what the tokenizer sees after the language token: cleaned words (spaces become [SPACE])
    return [clean(t, lang) for t in texts]


def train_bpe(texts: list[str], vocab_size: int, special: list[str] | None = None):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special or [], show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def _merge_pair(m) -> tuple[str, str]:
    return tuple(m.split(" ", 1)) if isinstance(m, str) else (m[0], m[1])


def extend_vocab(vocab_in: Path, vocab_out: Path, texts: list[str], lang: str, bpe_size: int = 500) -> Extension:
    """Write ``vocab_out`` = ``vocab_in`` + new BPE tokens/merges from ``texts`` + ``[lang]``."""
    data = json.loads(vocab_in.read_text(encoding="utf-8"))
    model = data["model"]
    vocab: dict[str, int] = model["vocab"]
    added = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    size_before = max([*vocab.values(), *added.values()]) + 1
    next_id = size_before
    new_bpe = json.loads(train_bpe(_wire(texts, lang), bpe_size).to_str())["model"]
    n_tokens = 0
    for token in sorted(new_bpe["vocab"], key=new_bpe["vocab"].get):
        if token not in vocab and token not in added:
            vocab[token] = next_id
            next_id += 1
            n_tokens += 1
    known = {_merge_pair(m) for m in model.get("merges", [])}
    as_str = bool(model.get("merges")) and isinstance(model["merges"][0], str)
    n_merges = 0
    for m in new_bpe.get("merges", []):
        a, b = _merge_pair(m)
        if (a, b) not in known and a in vocab and b in vocab and a + b in vocab:
            model.setdefault("merges", []).append(f"{a} {b}" if as_str else [a, b])
            known.add((a, b))
            n_merges += 1
    ltok = lang_token(lang)
    lang_added = ltok not in added and ltok not in vocab
    if lang_added:
        vocab[ltok] = next_id
        data.setdefault("added_tokens", []).append({"id": next_id, "content": ltok, "single_word": False,
                                                    "lstrip": False, "rstrip": False, "normalized": False,
                                                    "special": True})
        next_id += 1
    write_text(vocab_out, json.dumps(data, ensure_ascii=False))
    return Extension(base_language(lang), n_tokens, n_merges, lang_added, size_before, next_id)


def resize_text_rows(weights: dict[str, torch.Tensor], n_tokens: int) -> int:
    """Grow the text embedding/head to ``n_tokens`` rows in place (new rows = mean of the old ones);
    returns how many rows were added."""
    old = weights["text_embedding.weight"].shape[0]
    if n_tokens < old:
        raise ValueError(f"vocabulary shrank from {old} to {n_tokens} tokens")
    if n_tokens == old:
        return 0
    for key in TEXT_ROWS:
        w = weights[key].float()
        mean = w.mean(dim=0, keepdim=True)
        weights[key] = torch.cat([w, mean.expand(n_tokens - old, *w.shape[1:])], dim=0).to(weights[key].dtype)
    return n_tokens - old


def coverage(tokenizer, texts: list[str], lang: str) -> tuple[int, list[str]]:
    """(number of texts with [UNK] tokens, a few of the characters that caused them)."""
    from voicetune.models.xtts.text import encode

    bad, chars = 0, set()
    for t in texts:
        ids = encode(tokenizer, t, lang)
        if 1 in ids:
            bad += 1
            chars |= {c for c in clean(t, lang) if tokenizer.tokenizer.token_to_id(c) is None and not c.isspace()}
    return bad, sorted(chars)[:8]
