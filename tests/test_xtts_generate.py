"""XTTS code generation through transformers' generate() is right on the installed transformers.

coqui's GPT2InferenceModel runs inside ``GenerationMixin.generate`` with a KV cache whose argument
name changed in transformers 5.24 (``past_key_values`` -> ``cache``). Greedy decoding with the
cache must give exactly the codes of a step-by-step loop that recomputes the whole sequence
without any cache, on every transformers release in the tested range.
`tests/test_xtts_versions.py` runs this file against the other end of that range.
"""

from __future__ import annotations

import torch

from xtts_helpers import tiny_base  # noqa: F401


def _gpt(tiny_base):  # noqa: F811
    from voicetune.models.xtts.base import resolve_base
    from voicetune.models.xtts.model import base_gpt

    gpt, tok, _, _ = base_gpt(resolve_base(tiny_base))
    gpt.init_gpt_for_inference(kv_cache=True)
    return gpt.eval(), tok


def _reference_greedy(gpt, cond, text, n: int) -> list[int]:
    """Argmax decoding by recomputing the full sequence each step (no cache anywhere)."""
    inputs = gpt.compute_embeddings(cond, text)
    prefix = gpt.gpt_inference.cached_prefix_emb
    codes: list[int] = []
    for _ in range(n):
        gen = torch.tensor([[gpt.start_audio_token, *codes]])
        emb = gpt.mel_embedding(gen) + gpt.mel_pos_embedding(gen)
        hidden = gpt.gpt(inputs_embeds=torch.cat([prefix, emb], dim=1), use_cache=False).last_hidden_state
        nxt = int(gpt.mel_head(gpt.final_norm(hidden[:, -1])).argmax(-1))
        codes.append(nxt)
        if nxt == gpt.stop_audio_token:
            break
    assert inputs.shape[1] == prefix.shape[1] + 1
    return codes


def test_cached_greedy_generation_equals_a_loop_without_cache(tiny_base):  # noqa: F811
    import transformers

    gpt, tok = _gpt(tiny_base)
    torch.manual_seed(0)
    cond = torch.randn(1, 32, gpt.model_dim) * 0.5
    text = torch.tensor([tok.encode("hello there, how are you", "en")])
    n = 12
    with torch.no_grad():
        ours = gpt.generate(cond, text, do_sample=False, num_beams=1, max_new_tokens=n, min_new_tokens=n,
                            use_cache=True)[0].tolist()
        ref = _reference_greedy(gpt, cond, text, n)
    assert len(ours) == n, (transformers.__version__, ours)
    assert ours == ref[:n], (transformers.__version__, ours, ref)


def test_the_cache_argument_reaches_coqui_under_either_name(tiny_base):  # noqa: F811
    """The shim maps ``cache=`` to ``past_key_values``; passing the old name still works unchanged."""
    from transformers import DynamicCache

    gpt, tok = _gpt(tiny_base)
    torch.manual_seed(0)
    inputs = gpt.compute_embeddings(torch.randn(1, 8, gpt.model_dim), torch.tensor([tok.encode("hi", "en")]))
    model = gpt.gpt_inference
    with torch.no_grad():
        first = model(input_ids=inputs, past_key_values=DynamicCache(), use_cache=True, return_dict=True)
        step = torch.tensor([[5]])
        old = model(input_ids=step, past_key_values=first.past_key_values, use_cache=True, return_dict=True).logits
        first = model(input_ids=inputs, past_key_values=DynamicCache(), use_cache=True, return_dict=True)
        new = model(input_ids=step, cache=first.past_key_values, use_cache=True, return_dict=True).logits
    assert torch.equal(old, new)
