"""Text front end: the one normaliser (numbers, punctuation), sentence splitting, Piper-exact phonemes."""

from .normalize import normalize_text
from .phonemize import Phonemizer
from .sentences import split_sentences

__all__ = ["Phonemizer", "normalize_text", "split_sentences"]
