"""Text front end: cleaning (numbers, punctuation), sentence splitting, Piper-exact phonemes."""

from .cleaners import clean_text
from .phonemize import Phonemizer
from .sentences import split_sentences

__all__ = ["Phonemizer", "clean_text", "split_sentences"]
