"""The backend-agnostic trainer engine.

    backend.py      the contract a model backend implements (modules, steps, samples)
    config.py       TrainConfig (pydantic) + YAML; derived values carry their reason
    schedule.py     optimizers and LR schedules sized from the run's real optimizer steps
    data.py         seeded, length-bucketed, shardable batch sampler; feature cache
    stepper.py      accumulation, all-reduce, clipping, NaN skipping per optimizer
    engine.py       fit() / resume(): the loop on accelerate
    checkpoints.py  atomic checkpoints, top-k + last, best.json, listing
    monitor.py      early stopping, overfitting and instability diagnosis
    logs.py, ui.py  metrics.jsonl + TensorBoard + samples; banner and progress bar

Import from the submodules (``from voicetune.trainer.engine import fit``); this package keeps
its import light so ``voicetune --help`` does not load torch.
"""
