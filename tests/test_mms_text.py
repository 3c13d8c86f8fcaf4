"""The MMS tokenizer: the same ids as transformers' VitsTokenizer (Spanish characters, uroman on a
non-Latin line), and the out-of-vocabulary report that stops training before it starts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from mms_helpers import SPANISH_VOCAB

SPANISH = ["¿Qué tal, señor Núñez? ¡Muy bien!", "El pingüino comió una ÚLTIMA galleta.", "  ¡Adiós!  "]


@pytest.fixture(scope="module")
def tok_folders(tmp_path_factory):
    import transformers

    root = tmp_path_factory.mktemp("tok")
    (root / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(SPANISH_VOCAB)}, ensure_ascii=False))
    out = {}
    for uroman in (False, True):
        folder = root / f"uroman-{uroman}"
        transformers.VitsTokenizer(str(root / "vocab.json"), phonemize=False, is_uroman=uroman, pad_token="_").save_pretrained(folder)
        out[uroman] = folder
    return out


def test_ids_equal_transformers_tokenizer(tok_folders):
    import transformers

    from voicetune.models.mms.tokenizer import MmsTokenizer

    theirs = transformers.VitsTokenizer.from_pretrained(str(tok_folders[False]))
    ours = MmsTokenizer.from_folder(tok_folders[False])
    for text in SPANISH:
        assert ours.encode(text) == theirs(text)["input_ids"], text
    assert ours.prepare(SPANISH[0]) == ("¿qué tal señor núñez ¡muy bien", [",", "?", "!"])
    assert ours.unknown_chars(SPANISH[0]) == []  # punctuation outside the vocab is dropped, not reported


def test_uroman_romanizes_a_cyrillic_line_like_transformers(tok_folders):
    import transformers

    from voicetune.models.mms.tokenizer import MmsTokenizer

    line = "Привет, как дела? Всё хорошо."
    ours = MmsTokenizer.from_folder(tok_folders[True])
    assert ours.is_uroman
    assert ours.prepare(line)[0] == "privet kak dela vse khorosho"
    theirs = transformers.VitsTokenizer.from_pretrained(str(tok_folders[True]))
    assert ours.encode(line) == theirs(line)["input_ids"]
    # without uroman the same line has no character of the vocab: all of it is reported
    plain = MmsTokenizer.from_folder(tok_folders[False])
    assert plain.encode(line) == [] and "П".lower() in plain.unknown_chars(line)


def test_unknown_characters_are_reported_with_clip_counts(tok_folders):
    from voicetune.models.mms.tokenizer import MmsTokenizer, unknown_report

    tok = MmsTokenizer.from_folder(tok_folders[False])
    clips = [SimpleNamespace(id=f"c{i}", text=t) for i, t in
             enumerate(["Hola señor.", "La calle 13 de Straße.", "Son las 7.", "Ça va?"])]
    report = unknown_report(tok, clips)
    assert report.clips == ["c1", "c2", "c3"]
    assert report.chars == {"1": 1, "3": 1, "ß": 1, "7": 1, "ç": 1}
    msg = report.message("my-dataset")
    assert msg.startswith("my-dataset: 3 clip(s)") and "'ß' U+00DF in 1 clip(s)" in msg and "--skip-unknown-chars" in msg


def test_tokenizer_folder_errors(tmp_path):
    from voicetune.errors import VoicetuneError
    from voicetune.models.mms.tokenizer import MmsTokenizer

    with pytest.raises(VoicetuneError, match=r"vocab\.json: missing"):
        MmsTokenizer.from_folder(tmp_path)
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(VoicetuneError, match="not valid JSON"):
        MmsTokenizer.from_folder(tmp_path)
    (tmp_path / "vocab.json").write_text('{"a": 0}')
    (tmp_path / "tokenizer_config.json").write_text('{"phonemize": true}')
    with pytest.raises(VoicetuneError, match="phonemize=true"):
        MmsTokenizer.from_folder(tmp_path)
