"""Which dataset speaker trains which speaker id of a VITS model, and a single-speaker model made
multi-speaker.

A single-speaker base meets several speakers in two ways: a dataset with several speakers (and no
``--speaker``), or an earlier single-speaker run used as the base for a dataset of another speaker
(sequential training: the run's own speaker is kept as speaker 0 under its name). Either way the
model gains Piper's speaker embedding ``emb_g`` (gin_channels 512, piper's default for
multi-speaker voices) and a conditioning layer in each module that reads it (``dec.cond``,
``dp.cond``, ``flow.flows.*.enc.cond_layer``, ``enc_q.enc.cond_layer``). Those layers start at
zero, so at step 0 every speaker speaks exactly as the base; the embedding rows start N(0, 1) (a
zero row and a zero layer would give each other no gradient). Rows of 512 random values are
nearly orthogonal, so a conditioning layer that learns one speaker barely moves what it does for
another; the layers they share (flow, decoder) do move.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.errors import VoicetuneError

TABLE_SEED = 0  # the new embedding rows are seeded: a resume rebuilds the same model
COND_SUFFIXES = (".cond.weight", ".cond.bias", ".cond_layer.weight", ".cond_layer.bias")


@dataclass
class SpeakerPlan:
    train_ids: dict[str, int]  # dataset speaker -> the model's speaker id its clips train
    table: dict[str, int] = field(default_factory=dict)  # every speaker of the model; {} when single-speaker
    n_speakers: int = 1
    grow: bool = False  # a single-speaker base gains a speaker table
    lines: list[str] = field(default_factory=list)  # what was decided and why (log and banner)


def run_speakers(info: dict) -> dict[str, int]:
    """The named speakers of a run (its ``vits.json``): the table of a multi-speaker run, the one
    speaker of a single-speaker run where it is known."""
    if info.get("speaker_ids"):
        return {str(k): int(v) for k, v in info["speaker_ids"].items()}
    return {str(info["speaker"]): 0} if info.get("speaker") else {}


def keep_speaker(ds, speaker: str, dataset: Path) -> str:
    """Keep ``speaker``'s clips in ``ds``; the log line names the speakers left out with their clip counts."""
    counts = Counter(c.speaker for c in ds.clips)
    if speaker not in counts:
        raise VoicetuneError(f"--speaker {speaker}: no clip of that speaker in {dataset} (it has: "
                             f"{', '.join(sorted(counts)[:10])})")
    total = len(ds.clips)
    ds.clips = [c for c in ds.clips if c.speaker == speaker]
    others = ", ".join(f"{n} ({k} clips)" for n, k in sorted(counts.items()) if n != speaker)
    return f"--speaker {speaker}: {len(ds.clips)} of {total} clips" + (f"; left out: {others}" if others else "")


def plan_speakers(ds, voice, n_speakers: int, speaker: str | None, dataset: Path, base,
                  base_speakers: dict[str, int] | None = None) -> SpeakerPlan:
    """Keep ``--speaker``'s clips (all when None) in ``ds`` and give each dataset speaker a speaker
    id. ``base_speakers``: the named speaker of a single-speaker run used as the base."""
    lines = [keep_speaker(ds, speaker, dataset)] if speaker is not None else []
    names = ds.speakers()
    if n_speakers <= 1:
        own = dict(base_speakers or {})
        if (own and names == list(own)) or (not own and len(names) == 1):
            if own:
                lines.append(f"speaker {names[0]}: the speaker of --base {base}; it trains on (the same name). "
                             "A speaker of another name would be added beside it")
            return SpeakerPlan({n: 0 for n in names}, lines=lines)
        table = dict(own)
        for n in names:
            table.setdefault(n, len(table))
        listed = ", ".join(f"{n} {i}" for n, i in table.items())
        if own:
            kept = ", ".join(n for n in own if n not in names)
            why = (f"--base {base} is a single-speaker run of {', '.join(own)}"
                   + (f", kept as speaker {own[kept]} (no clip of it here: it does not train)" if kept else ""))
        else:
            why = f"{dataset} has {len(names)} speakers and no --speaker was given"
        lines.append(f"speakers: the model becomes multi-speaker ({listed}): {why}. A speaker embedding is "
                     f"added to --base {base} with its conditioning layers at zero, so each new speaker starts "
                     "from the base's voice" + ("; --speaker NAME trains one speaker instead" if not own else ""))
        return SpeakerPlan({n: table[n] for n in names}, table, len(table), True, lines)
    known = {str(k): int(v) for k, v in (voice.speaker_id_map or {}).items()}
    ids = {n: known[n] if n in known else int(n) for n in names if n in known or (n.isdigit() and int(n) < n_speakers)}
    table = known or {str(i): i for i in range(n_speakers)}
    if len(ids) == len(names):
        return SpeakerPlan(ids, table, n_speakers, lines=lines)
    if len(names) == 1:
        lines.append(f"note: --base {base} has {n_speakers} speakers and none is named '{names[0]}': "
                     "it trains speaker id 0")
        return SpeakerPlan({names[0]: 0}, table, n_speakers, lines=lines)
    raise VoicetuneError(f"{dataset}: speakers {', '.join(n for n in names if n not in ids)} are not speakers of "
                         f"--base {base} (its speakers: {', '.join(list(known)[:8]) or f'ids 0..{n_speakers - 1}'}); "
                         "name them so in the metadata CSVs or train one with --speaker NAME")


def with_speaker_table(model, n_speakers: int):
    """A copy of single-speaker ``model`` (without weight norm) with ``n_speakers`` speakers: the
    base's weights, zero conditioning layers, seeded N(0, 1) embedding rows."""
    import torch

    from voicetune.models.vits.model import VitsModel

    if model.config.n_speakers > 1:
        raise ValueError("the model already has a speaker table")
    new = VitsModel(model.config.with_(n_speakers=n_speakers, gin_channels=0))  # 0: the config's default, 512
    state = model.plain_state_dict()
    gen = torch.Generator().manual_seed(TABLE_SEED)
    for k, v in new.state_dict().items():
        if k in state:
            continue
        if k == "emb_g.weight":
            state[k] = torch.randn(v.shape, generator=gen)
        elif k.endswith(COND_SUFFIXES):
            state[k] = torch.zeros_like(v)
        else:  # only the speaker parts may be new: anything else would be a random layer
            raise ValueError(f"{k}: a weight the single-speaker model lacks that is not a speaker layer")
    new.load_state_dict(state, strict=True)
    return new.to(next(model.parameters()).device)
