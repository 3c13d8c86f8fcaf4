"""The advisor's decisions (trainer/advisor.py) on small and large datasets, CPU and GPU machines:
every value it sets carries its reason, and nothing the user gave is touched."""

from __future__ import annotations

from voicetune.trainer.advisor import DataFacts, Hardware, advise, given_keys
from voicetune.trainer.config import TrainConfig

CPU = Hardware(cores=2, ram_gib=24)
GPU = Hardware(cores=16, ram_gib=64, gpu="NVIDIA A10", vram_gib=24, bf16=True)
OLD_GPU = Hardware(cores=8, ram_gib=32, gpu="Tesla T4", vram_gib=16, bf16=False)
SMALL = DataFacts(train_clips=10, eval_clips=1, train_minutes=1.2, eval_minutes=0.1, speakers=1)
LARGE = DataFacts(train_clips=1200, eval_clips=60, train_minutes=95.0, eval_minutes=5.0, speakers=1)


def test_large_data_on_a_gpu():
    cfg = TrainConfig(max_minutes=30)
    assert advise(cfg, LARGE, GPU, set(), batch_cap=8) == []
    assert cfg.batch_size == 8 and "1200 training clips" in cfg.derived["batch_size"]
    assert cfg.epochs is None and "--max-minutes 30" in cfg.derived["epochs"]
    assert cfg.precision == "bf16" and "NVIDIA A10" in cfg.derived["precision"]


def test_small_data_on_a_cpu_is_said_before_training():
    cfg = TrainConfig()
    warnings = advise(cfg, SMALL, CPU, set(), batch_cap=8)
    assert cfg.batch_size == 2  # 10 clips: >= 4 steps per epoch
    assert cfg.precision == "no" and "precision" not in cfg.derived  # no GPU: nothing to derive
    assert len(warnings) == 2 and "1.2 min of training audio" in warnings[0] and "batch 2" in warnings[0]
    assert "6 s in 1 clip" in warnings[1] and "dataset split" in warnings[1]
    assert cfg.derived["advice.1"] == warnings[0]  # in config.yaml and the banner too


def test_what_the_user_gave_wins_and_workers_fit_the_cores():
    cfg = TrainConfig(batch_size=16, num_workers=8, precision="no")
    given = given_keys({"batch_size": 16}, {"num_workers": 8, "precision": "no", "early_stop": {"patience": 2}})
    assert {"batch_size", "num_workers", "early_stop", "early_stop.patience"} <= given
    advise(cfg, LARGE, CPU, given, batch_cap=8)
    assert cfg.batch_size == 16 and "batch_size" not in cfg.derived
    assert cfg.num_workers == 2 and "8 asked" in cfg.derived["num_workers"]  # never more loaders than cores
    cfg = TrainConfig()
    advise(cfg, LARGE, OLD_GPU, {"precision"}, batch_cap=4)
    assert cfg.precision == "no" and cfg.batch_size == 4 and "max 4 for this backend" in cfg.derived["batch_size"]


def test_backend_defaults_apply_only_where_not_given():
    cfg = TrainConfig()
    table = {"optimizer.lr": (5e-6, "XTTS recipe"), "clip_norm": (1.0, "a pretrained transformer")}
    advise(cfg, LARGE, CPU, {"optimizer.lr"}, batch_cap=4, defaults=table)
    assert cfg.optimizer.lr == 2e-4 and cfg.clip_norm == 1.0 and cfg.derived["clip_norm"] == "a pretrained transformer"


def test_hardware_detect_describes_this_machine():
    hw = Hardware.detect()
    assert hw.cores >= 1 and hw.ram_gib > 0 and "CPU cores" in hw.describe()


def test_bf16_on_a_cpu_that_emulates_it_is_warned_and_kept():
    cfg = TrainConfig(precision="bf16")
    warnings = advise(cfg, LARGE, CPU, {"precision"}, batch_cap=8)
    assert cfg.precision == "bf16" and "precision" not in cfg.derived  # what the user asked stays
    assert len(warnings) == 1 and "without native bf16" in warnings[0] and "--precision no" in warnings[0]
    native = Hardware(cores=2, ram_gib=24, cpu_bf16=True)  # AVX512-BF16 / AMX: nothing to say
    assert advise(TrainConfig(precision="bf16"), LARGE, native, {"precision"}, batch_cap=8) == []
    assert advise(TrainConfig(precision="bf16"), LARGE, GPU, {"precision"}, batch_cap=8) == []


def test_hardware_detect_reads_the_cpus_bf16_from_torch(monkeypatch):
    import torch

    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False)
    assert not Hardware.detect().cpu_bf16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)  # an AMX CPU
    assert Hardware.detect().cpu_bf16


def test_a_long_budget_run_on_english_data_is_picked_by_listening():
    english = DataFacts(train_clips=67, eval_clips=8, train_minutes=8.0, eval_minutes=0.9, speakers=1, language="en-us")
    cfg = TrainConfig(max_minutes=45)
    advise(cfg, english, CPU, set(), batch_cap=8, listen=True)
    assert (cfg.select_metric, cfg.select_mode) == ("combined", "max") and "listening" in cfg.derived["select_metric"]
    # not: a short budget, a run sized by steps, --select-by given, no WER (Spanish), no eval clips,
    # or a backend that does not ask for it
    for kwargs, data, given, listen in (
        ({"max_minutes": 12}, english, set(), True),
        ({"max_minutes": 45, "max_steps": 300}, english, {"max_steps"}, True),
        ({"max_minutes": 45, "select_metric": "eval/loss"}, english, {"select_metric"}, True),
        ({"max_minutes": 45}, DataFacts(67, 8, 8.0, 0.9, 1, "es"), set(), True),
        ({"max_minutes": 45}, DataFacts(67, 0, 8.0, 0.0, 1, "en"), set(), True),
        ({"max_minutes": 45}, english, set(), False),
    ):
        cfg = TrainConfig(**kwargs)
        advise(cfg, data, CPU, given, batch_cap=8, listen=listen)
        assert cfg.select_metric == "eval/loss" and "select_metric" not in cfg.derived, (kwargs, data, given, listen)
