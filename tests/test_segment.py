"""The clip planner as a pure function: limits, merging, splitting, margins."""

from __future__ import annotations

from voicetune.data.segment import SegmentConfig, Word, build_units, plan_clips, split_long_units

CFG = SegmentConfig(min_seconds=1.0, max_seconds=11.0, pad=0.2, max_pause=1.6)


def words_for(spans, per_word=0.3):
    out = []
    for s, e in spans:
        t = s
        while t + per_word <= e + 1e-9:
            out.append(Word(t, t + per_word, " w"))
            t += per_word
    return out


def test_short_spans_are_merged_with_neighbours_not_dropped():
    spans = [(0.5, 0.8), (1.1, 1.4), (1.7, 2.3), (2.6, 3.2)]  # each under 1 s, pauses 0.3 s
    plans = plan_clips(build_units(spans, words_for(spans)), total=4.0, cfg=CFG)
    assert len(plans) == 1 and plans[0].problem is None
    assert plans[0].speech_start == 0.5 and plans[0].speech_end == 3.2


def test_seconds_are_compared_with_seconds():
    """AllTalk compared samples with seconds and never merged; here 3 x 3 s spans with short pauses
    become one 9.x s clip rather than three."""
    spans = [(0.0, 3.0), (3.3, 6.3), (6.6, 9.6)]
    plans = plan_clips(build_units(spans, words_for(spans)), total=10.0, cfg=CFG)
    assert all(p.duration <= 11.0 for p in plans)
    assert len(plans) <= 2


def test_every_clip_fits_max_with_margins():
    spans = [(i * 2.3, i * 2.3 + 2.0) for i in range(30)]
    plans = plan_clips(build_units(spans, words_for(spans)), total=70.0, cfg=CFG)
    assert all(p.problem is None for p in plans)
    assert all(CFG.min_seconds <= p.duration <= CFG.max_seconds for p in plans)
    for a, b in zip(plans, plans[1:], strict=False):
        assert a.end <= b.start + 1e-9, "margins never reach into the neighbour"


def test_long_span_is_split_at_the_deepest_word_gap():
    ws = [Word(0.3 * i, 0.3 * i + 0.28, f" w{i}") for i in range(50)]  # 15 s of speech, 20 ms gaps
    ws[20] = Word(ws[20].start, ws[20].end - 0.1, ws[20].text)  # one deeper gap after word 20
    units = split_long_units(build_units([(0.0, 15.0)], ws), limit=CFG.max_seconds - 2 * CFG.pad)
    assert len(units) == 2
    assert abs(units[0].end - ws[20].end) < 1e-9 and units[1].start == ws[21].start
    assert all(u.words for u in units)


def test_unsplittable_long_span_is_reported_not_cut():
    ws = [Word(0.0, 14.0, " aaaaah")]
    plans = plan_clips(split_long_units(build_units([(0.0, 14.0)], ws), 10.6), total=15.0, cfg=CFG)
    assert len(plans) == 1 and "too long" in plans[0].problem


def test_isolated_short_word_is_reported():
    spans = [(1.0, 1.3), (10.0, 13.0)]
    plans = plan_clips(build_units(spans, words_for(spans)), total=14.0, cfg=CFG)
    assert "too short" in plans[0].problem and plans[1].problem is None


def test_vad_gap_inside_a_word_is_not_a_cut_point():
    spans = [(0.0, 1.0), (1.1, 2.0)]
    ws = [Word(0.0, 0.5, " a"), Word(0.5, 1.5, " stretched"), Word(1.5, 2.0, " b")]
    units = build_units(spans, ws)
    assert len(units) == 1


def test_long_silence_always_ends_a_clip():
    spans = [(0.0, 2.0), (5.0, 7.0)]
    plans = plan_clips(build_units(spans, words_for(spans)), total=8.0, cfg=CFG)
    assert len(plans) == 2
