"""The monitor's diagnosis on constructed curves (no training needed)."""

from __future__ import annotations

from voicetune.trainer.config import TrainConfig
from voicetune.trainer.monitor import Monitor


def _kinds(events):
    return [e.kind for e in events]


def test_early_stop_needs_patience_evals_without_min_delta_gain():
    m = Monitor(TrainConfig(early_stop={"patience": 2, "min_delta": 0.05}, overfit={"enabled": False}))
    assert _kinds(m.on_eval(1, 1.0, None)) == []
    assert _kinds(m.on_eval(2, 0.97, None)) == []  # better, but by less than min_delta
    events = m.on_eval(3, 0.96, None)
    assert _kinds(events) == ["early_stop"] and events[0].stop and "best 1 at step 1" in events[0].message
    m2 = Monitor(TrainConfig(early_stop={"patience": 2, "min_delta": 0.05}))
    for step, loss in enumerate([1.0, 0.9, 0.8, 0.7], 1):
        assert "early_stop" not in _kinds(m2.on_eval(step, loss, None))


def test_overfit_when_eval_rises_while_train_falls_and_gap_ratio():
    m = Monitor(TrainConfig(overfit={"k_evals": 2, "gap_ratio": 1.5}, early_stop={"enabled": False}))
    m.on_eval(1, 1.0, 1.0)
    assert "overfit" not in _kinds(m.on_eval(2, 1.1, 0.9))
    events = m.on_eval(3, 1.2, 0.8)
    assert "overfit" in _kinds(events) and "1 -> 1.2" in events[0].message
    assert "gap" in _kinds(m.on_eval(4, 1.3, 0.7))  # 1.86 > 1.5
    stop = Monitor(TrainConfig(overfit={"k_evals": 2, "action": "stop"}, early_stop={"enabled": False}))
    stop.on_eval(1, 1.0, 1.0)
    stop.on_eval(2, 1.1, 0.9)
    assert any(e.stop for e in stop.on_eval(3, 1.2, 0.8))


def test_nonfinite_steps_lower_lr_then_stop():
    m = Monitor(TrainConfig(instability={"lower_lr_after": 2, "lr_factor": 0.5, "max_bad_steps": 5}))
    assert _kinds(m.on_step(1, None, False)) == ["nonfinite"]
    assert _kinds(m.on_step(2, None, False)) == ["nonfinite", "lr_lowered"] and m.lr_scale == 0.5
    m.on_step(3, 1.0, True)  # a good step resets the run of bad ones
    assert _kinds(m.on_step(4, None, False)) == ["nonfinite"] and m.lr_scale == 0.5
    m.on_step(5, None, False)
    events = m.on_step(6, None, False)
    assert events[-1].kind == "unstable" and events[-1].stop and "Lower the learning rate" in events[-1].message


def test_spike_and_oscillation_in_plain_words():
    m = Monitor(TrainConfig())
    for step in range(1, 21):
        assert m.on_step(step, 1.0 + 0.01 * (step % 3), True) == []
    events = m.on_step(21, 5.0, True)
    assert _kinds(events) == ["spike"] and "spiked to 5 at step 21" in events[0].message
    assert m.on_step(22, 5.0, True) == []  # reported once per window, not every step
    osc = Monitor(TrainConfig(early_stop={"enabled": False}, overfit={"enabled": False}))
    found = [e for i, v in enumerate([1.0, 0.6, 0.9, 0.55, 0.85, 0.5]) for e in osc.on_eval(i, v, None)]
    assert _kinds(found) == ["oscillation"] and "oscillating" in found[0].message


def test_state_round_trip():
    m = Monitor(TrainConfig())
    m.on_eval(1, 1.0, 0.9)
    m.on_step(2, None, False)
    m.on_step(3, 0.5, True)
    n = Monitor(TrainConfig())
    n.load_state_dict(m.state_dict())
    assert n.state_dict() == m.state_dict()
