"""finetune-hf-vits JSON configs map onto our training config; ignored keys say why."""

from __future__ import annotations

import json

import pytest

# ylacombe/finetune-hf-vits training_config_examples/finetune_mms.json, with a Spanish base
FINETUNE_SPANISH = {
    "project_name": "mms_spanish_finetuning", "push_to_hub": True, "hub_model_id": "me/mms-tts-spa-train",
    "report_to": ["wandb"], "overwrite_output_dir": True, "output_dir": "./tmp/vits_finetuned_spa",
    "dataset_name": "me/spanish-voice", "dataset_config_name": "male", "audio_column_name": "audio",
    "text_column_name": "text", "train_split_name": "train", "eval_split_name": "train",
    "speaker_id_column_name": "speaker_id", "override_speaker_embeddings": True, "filter_on_speaker_id": 5251,
    "full_generation_sample_text": "Hola, ¿qué tal?", "max_duration_in_seconds": 20, "min_duration_in_seconds": 1.0,
    "max_tokens_length": 500, "model_name_or_path": "ylacombe/mms-tts-spa-train", "preprocessing_num_workers": 4,
    "do_train": True, "num_train_epochs": 200, "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
    "per_device_train_batch_size": 16, "learning_rate": 2e-5, "adam_beta1": 0.8, "adam_beta2": 0.99,
    "warmup_ratio": 0.01, "group_by_length": False, "do_eval": True, "eval_steps": 50,
    "per_device_eval_batch_size": 16, "max_eval_samples": 25, "do_step_schedule_per_epoch": True,
    "weight_disc": 3, "weight_fmaps": 1, "weight_gen": 1, "weight_kl": 1.5, "weight_duration": 1, "weight_mel": 35,
    "fp16": True, "seed": 456, "lr_decay": 0.999875, "save_steps": 100, "save_total_limit": 3,
}


def test_finetune_hf_vits_config_maps(tmp_path):
    from voicetune.models.mms.hf_config import read_hf_config
    from voicetune.models.vits.finetune import VitsTrainOptions
    from voicetune.trainer.config import config_from_dict

    path = tmp_path / "finetune_spanish.json"
    path.write_text(json.dumps(FINETUNE_SPANISH, ensure_ascii=False))
    m = read_hf_config(path)
    cfg = config_from_dict(m.engine, {}, str(path))
    assert (cfg.epochs, cfg.batch_size, cfg.grad_accum, cfg.eval_batch_size) == (200, 16, 1, 16)
    assert cfg.optimizer.lr == 2e-5 and cfg.optimizer.betas == (0.8, 0.99)
    assert cfg.scheduler.name == "exponential" and cfg.scheduler.gamma == 0.999875 and cfg.scheduler.gamma_per == "epoch"
    assert cfg.scheduler.warmup_fraction == 0.01 and cfg.precision == "fp16" and cfg.seed == 456
    assert (cfg.eval_every, cfg.save_every, cfg.save_total_limit) == (50, 100, 3)
    opts = VitsTrainOptions(**m.own["vits"])
    assert (opts.c_mel, opts.c_kl, opts.c_dur, opts.c_fm, opts.c_adv, opts.c_disc) == (35, 1.5, 1, 1, 1, 3)
    assert m.own["base"] == "ylacombe/mms-tts-spa-train"
    assert m.own["hf_dataset"] == {"name": "me/spanish-voice", "config": "male", "audio_column": "audio",
                                   "text_column": "text", "split": "train", "speaker_column": "speaker_id",
                                   "max_seconds": 20, "min_seconds": 1.0}
    assert m.own["mms"] == {"override_speaker_embeddings": True, "filter_speaker": "5251", "max_tokens": 500}
    ignored = dict(m.ignored)
    assert set(ignored) == {"project_name", "push_to_hub", "hub_model_id", "report_to", "overwrite_output_dir",
                            "output_dir", "eval_split_name", "full_generation_sample_text", "preprocessing_num_workers",
                            "do_train", "group_by_length", "do_eval", "max_eval_samples", "do_step_schedule_per_epoch"}
    assert "offline" in ignored["push_to_hub"] and "never train clips" in ignored["eval_split_name"]
    lines = m.lines()
    assert "config: learning_rate = 2e-05 -> optimizer.lr" in lines
    assert any(line.startswith("config: ignored push_to_hub:") for line in lines)


def test_unknown_keys_are_reported_and_non_hf_json_refused(tmp_path):
    from voicetune.errors import VoicetuneError
    from voicetune.models.mms.hf_config import read_hf_config, translate

    m = translate({"learning_rate": 1e-4, "my_custom_flag": 3, "max_steps": -1, "fp16": False})
    assert dict(m.ignored) == {"my_custom_flag": "not a finetune-hf-vits option voicetune knows"}
    assert m.engine == {"optimizer": {"lr": 1e-4}}  # max_steps -1 = no limit, fp16 false = default precision
    path = tmp_path / "other.json"
    path.write_text('{"foo": 1}')
    with pytest.raises(VoicetuneError, match="not a finetune-hf-vits config"):
        read_hf_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(VoicetuneError, match="JSON object"):
        read_hf_config(path)


def test_bad_values_and_unknown_mms_keys_are_one_line_errors(tmp_path):
    from voicetune.errors import VoicetuneError
    from voicetune.models.mms.hf_config import translate
    from voicetune.models.mms.training import build
    from voicetune.models.vits.finetune import VitsTrainOptions

    with pytest.raises(VoicetuneError, match="wrong type"):
        translate({"adam_beta1": "zero point eight"})
    with pytest.raises(VoicetuneError, match=r"mms\.max_tokens"):
        build(tmp_path, "base", VitsTrainOptions(), {"max_tokens": 4})
    with pytest.raises(VoicetuneError, match=r"mms\.filter_speakr"):  # a typo is not silently ignored
        build(tmp_path, "base", VitsTrainOptions(), {"filter_speakr": "3"})
