"""The one text normaliser (voicetune.text.normalize): what every path that cleans text produces."""

from __future__ import annotations

import pytest

from voicetune.text.normalize import normalize_text

CASES = [
    # currency: dollars and cents, not "five point five dollars"
    ("It costs $5.50.", "It costs five dollars fifty cents."),
    ("$1.01, £3.20 and €2", "one dollar one cent, three pounds twenty pence and two euros"),
    ("In 1999 it cost $5 and 12%.", "In nineteen ninety-nine it cost five dollars and twelve percent."),
    ("$2,500 please", "two thousand, five hundred dollars please"),
    # decades
    ("In the 1990s, 50% agreed.", "In the nineteen nineties, fifty percent agreed."),
    ("the 1900s, the 2010s and the '80s", "the nineteen hundreds, the twenty tens and the eighties"),
    # clock times
    ("From platform 7 at 10:30 , ok", "From platform seven at ten thirty, ok"),
    ("At 9:05, 10:00 and 7:30pm", "At nine oh five, ten o'clock and seven thirty pm"),
    # ordinals
    ("She came 3rd, he 21st and 101st.", "She came third, he twenty-first and one hundred and first."),
    # years (1100-2099), but not a grouped number
    ("In 2024, 2005 and 1066.", "In twenty twenty-four, two thousand and five and one thousand and sixty-six."),
    ("1,999 people", "one thousand, nine hundred and ninety-nine people"),
    # percentages and decimals
    ("12.5% of them", "twelve point five percent of them"),
    ("Pi is 3.14!!", "Pi is three point one four!"),
    ("1,000,000 people", "one million people"),
    # punctuation and quotes
    ("“Quoted”—text…  spaced ,out", '"Quoted" - text... spaced, out'),
    ("the 3rd “time” & more", 'the third "time" and more'),
    ("Crème brûlée at 7 o’clock.", "Crème brûlée at seven o'clock."),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_english(text, expected):
    assert normalize_text(text, "en") == expected
    assert normalize_text(text, "en-us") == expected  # an espeak voice name means the same language


def test_other_languages_use_their_own_words_and_marks():
    assert normalize_text("Tengo 3 gatos", "es") == "Tengo tres gatos"
    assert normalize_text("Ich habe 21 Katzen.", "de") == "Ich habe einundzwanzig Katzen."
    assert normalize_text("Es kostet 3,50 € für 1.000 Leute", "de") == \
        "Es kostet drei Euro und fünfzig Cent für eintausend Leute"
    assert normalize_text("Il a 2,5 kg", "fr") == "Il a deux virgule cinq kg"
    # a language num2words does not know keeps its digits rather than English words
    assert normalize_text("Nina 3 paka", "sw") == "Nina 3 paka"
    # no language (import-hf without --language): punctuation only
    assert normalize_text("“12” cats", None) == '"12" cats'


def test_every_path_uses_it():
    """prepare/import-hf, `say --clean` and XTTS's new languages all produce the normaliser's text."""
    from voicetune.data.hf_import import _clean
    from voicetune.models.xtts.text import clean_new_language

    text = "It costs $5.50 at 10:30 in the 1990s."
    spoken = normalize_text(text, "en")
    assert spoken == "It costs five dollars fifty cents at ten thirty in the nineteen nineties."
    assert _clean(text, "en") == spoken
    assert _clean(text, None) == text  # no language: digits kept
    assert clean_new_language(text, "en") == spoken.lower()
    assert clean_new_language("Nina paka 3 “wazuri”", "sw") == "nina paka 3 wazuri"


def test_say_clean_speaks_the_normalised_words():
    """`say --clean` hands the phonemizer exactly the normaliser's text, in the voice's language."""
    import dataclasses

    from voicetune.synth import load_voice, synthesize_sentences

    heard = []

    class Listener:
        def text_to_ids(self, text):
            heard.append(text)
            return []

    voice = dataclasses.replace(load_voice("joe"), phonemizer=Listener())
    synthesize_sentences("It costs $5.50 at 10:30.", voice, clean=True)
    synthesize_sentences("It costs $5.50 at 10:30.", voice, clean=False)
    assert heard == ["It costs five dollars fifty cents at ten thirty.", "It costs $5.50 at 10:30."]
