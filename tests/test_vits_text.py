"""Text front end: ids identical to piper-tts's, cleaning, sentence splitting."""

from __future__ import annotations

import pytest

from vits_helpers import joe_paths, piper_joe  # noqa: F401
from voicetune.text import Phonemizer, split_sentences
from voicetune.text.sentences import chunk_sentences

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there, how are you? I'm fine: thanks! And you; well...",
    "In 1492, Columbus sailed 3,000 miles (or so) for $5.50 — wow.",
    'She said "don\'t" twice. Then [[ h ə l oʊ ]] she left.',
    "Dr. Smith lives on St. James St. in the U.S.",
]


@pytest.fixture(scope="module")
def phonemizer(joe_paths):  # noqa: F811
    from voicetune.models.vits.voice import VoiceConfig

    return Phonemizer(VoiceConfig.load(joe_paths[1]))


@pytest.mark.parametrize("text", TEXTS)
def test_ids_identical_to_piper(phonemizer, piper_joe, text):  # noqa: F811
    ours = phonemizer.text_to_ids(text)
    theirs = [piper_joe.phonemes_to_ids(p) for p in piper_joe.phonemize(text) if p]
    assert ours == theirs
    assert ours and all(ids[0] == 1 and ids[-1] == 2 for ids in ours)  # BOS ... EOS


def test_sentence_split_by_espeak(phonemizer):
    assert len(phonemizer.phonemize("One. Two! Three? Four")) == 4


def test_split_sentences():
    text = "Dr. Smith arrived at 3.5 p.m. today. He said: hello! J. R. R. Tolkien wrote books? Yes. The U.S. economy grew"
    assert split_sentences(text) == [
        "Dr. Smith arrived at 3.5 p.m. today.",
        "He said: hello!",
        "J. R. R. Tolkien wrote books?",
        "Yes.",
        "The U.S. economy grew",
    ]
    assert split_sentences("  ") == []
    chunks = chunk_sentences(["a" * 30, "b" * 30, "c" * 30], max_chars=65)
    assert chunks == ["a" * 30 + " " + "b" * 30, "c" * 30]
