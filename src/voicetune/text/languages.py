"""Which espeak-ng voice phonemizes a language: the one place that decides it for a Piper/VITS run.

The voices are the ones piper-tts's bundled espeak-ng data has (``piper/espeak-ng-data/lang/``,
the data its runtime phonemizes with, so training and ``piper`` agree). Each voice file names the
language tags it speaks with a priority (``language pt 6`` in ``pt-BR``; no number means 5, lower
wins), which is how espeak-ng itself picks a voice for a bare language.

Piper's phoneme-id map is one IPA inventory for every espeak language, which is why piper
fine-tunes an English checkpoint on another language's data by phonemizing that data with the
data's own espeak voice; a run does the same (``run_espeak_voice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from voicetune.errors import VoicetuneError

DEFAULT_PRIORITY = 5  # espeak-ng's value for a `language` line without one


@dataclass(frozen=True)
class EspeakVoice:
    name: str  # what espeak's set_voice takes (the file name, lower-case: "en-us", "pt-br")
    english_name: str  # the file's `name` line: "German", "Portuguese (Brazil)"
    languages: tuple[tuple[str, int], ...]  # (tag, priority), tags lower-case


def tag(language: str) -> str:
    """"pt_BR" / "PT-br" -> "pt-br"."""
    return language.strip().lower().replace("_", "-")


def _data_dir() -> Path:
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    return Path(ESPEAK_DATA_DIR)


@lru_cache(maxsize=1)
def espeak_voices() -> dict[str, EspeakVoice]:
    """Every voice of piper's espeak-ng data, by name."""
    out: dict[str, EspeakVoice] = {}
    for path in sorted((_data_dir() / "lang").rglob("*")):
        if not path.is_file():
            continue
        english, langs = path.name, []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "name":
                english = " ".join(words[1:])
            elif len(words) >= 2 and words[0] == "language":
                langs.append((tag(words[1]), int(words[2]) if len(words) > 2 and words[2].isdigit() else DEFAULT_PRIORITY))
        out[path.name.lower()] = EspeakVoice(path.name.lower(), english, tuple(langs))
    return out


def espeak_voice_for(language: str) -> str | None:
    """The espeak-ng voice for a language tag (None: espeak has none). A voice named exactly so
    ("de", "pt-br") first, then the voice declaring the tag with the best priority, then the same
    for the tag's primary language ("de-at" -> "de")."""
    voices = espeak_voices()
    wanted = tag(language)
    for candidate in dict.fromkeys([wanted, wanted.split("-")[0]]):
        if candidate in voices:
            return candidate
        declared = [(p, v.name) for v in voices.values() for t, p in v.languages if t == candidate]
        if declared:
            return min(declared)[1]
    return None


def same_language(language: str, espeak_voice: str) -> bool:
    """Does an espeak voice speak ``language`` (its primary tag)? "en" and "en-GB" on "en-us": yes."""
    primary = tag(language).split("-")[0]
    voice = espeak_voices().get(tag(espeak_voice))
    tags = [t for t, _ in voice.languages] if voice else [tag(espeak_voice)]
    return any(t.split("-")[0] == primary for t in tags)


def run_espeak_voice(language: str, base_voice: str) -> tuple[str, str | None]:
    """(the espeak voice a run phonemizes its dataset with, the log line saying so or None).

    A dataset in the base voice's language keeps the base's voice (its dialect is what the model
    learned); another language gets that language's own espeak voice, as piper does for
    cross-lingual fine-tuning. Refuses a language espeak-ng has no voice for."""
    if same_language(language, base_voice):
        return base_voice, None
    voice = espeak_voice_for(language)
    if voice is None:
        raise VoicetuneError(f"dataset language '{language}': espeak-ng (piper-tts's bundled data) has no voice for "
                             "it, so the Piper/VITS path cannot phonemize it; set dataset.json's language to an "
                             "espeak-ng language code (`espeak-ng --voices`) or use the MMS backend")
    return voice, f"dataset language {language}: phonemized with espeak-ng voice '{voice}' (base voice {base_voice})"


def language_block(language: str, espeak_voice: str) -> dict[str, str]:
    """The ``language`` object of a Piper voice config (piper's voices.json fields: code, family,
    region, name_english) for a voice trained in ``language``. Fields we cannot know (the native
    name, the country) are left out rather than carried over from the base."""
    parts = language.strip().replace("-", "_").split("_")
    family = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 and parts[1].isalpha() and len(parts[1]) == 2 else None
    block = {"code": f"{family}_{region}" if region else family, "family": family}
    if region:
        block["region"] = region
    voice = espeak_voices().get(espeak_voice)
    if voice is not None:
        block["name_english"] = voice.english_name
    return block
