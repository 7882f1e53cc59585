"""The GPT: size by formula, causality, the KV cache against the uncached model, the
sampling filters on fixed logits, beam search against brute force, training through
workbook.train.fit on Shakespeare, and the benchmark script on a CPU."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from helpers import load_bench
from workbook.checks import assert_close
from workbook.data.shakespeare import load_shakespeare
from workbook.nn.attention import KVCache, MultiHeadAttention, causal_mask
from workbook.nn.layers import FeedForward
from workbook.nn.gpt import (
    GPT,
    PEAK_FLOPS,
    GPTConfig,
    apply_temperature,
    beam_search_lm,
    configure_optimizer,
    estimate_loss,
    estimate_mfu,
    flops_per_token,
    gpt_param_count,
    gpu_peak_flops,
    lm_log_prob,
    lm_loss,
    sample_next,
    speed_report,
    top_k_filter,
    top_p_filter,
    trace,
)
from workbook.train import cosine_schedule, fit

f64 = torch.float64


def tiny(**overrides) -> GPTConfig:
    settings = dict(vocab_size=11, block_size=8, num_layers=2, num_heads=2, d_model=16,
                    dropout=0.0)
    settings.update(overrides)
    return GPTConfig(**settings)


# ----------------------------------------------------------------------------- config, size

def test_presets():
    ci, full = GPTConfig.ci(84), GPTConfig.full(84)
    assert (ci.num_layers, ci.num_heads, ci.d_model, ci.block_size) == (2, 2, 64, 64)
    assert (full.num_layers, full.num_heads, full.d_model, full.block_size, full.dropout) == (
        6, 6, 384, 256, 0.2)
    assert GPTConfig.for_profile(84, "ci") == ci and GPTConfig.for_profile(84, "full") == full
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(84, d_model=100, num_heads=6)
    with pytest.raises(ValueError, match="positions"):
        GPTConfig(84, positions="rotary")


@pytest.mark.parametrize("config", [
    GPTConfig.ci(84), GPTConfig.full(84), tiny(bias=True), tiny(positions="sinusoidal"),
    tiny(bias=True, positions="sinusoidal", num_layers=3)],
    ids=["ci", "full", "bias", "sinusoidal", "both"])
def test_parameter_count_by_formula(config):
    model = GPT(config)
    assert gpt_param_count(config) == sum(p.numel() for p in model.parameters())
    positions = config.block_size * config.d_model if config.positions == "learned" else 0
    assert gpt_param_count(config, non_embedding=True) == gpt_param_count(config) - positions


def test_full_size_matches_nanogpt():
    # nanoGPT prints "number of parameters: 10.65M" (without positions) for shakespeare_char
    assert gpt_param_count(GPTConfig.full(65), non_embedding=True) == 10_646_784


def test_weight_tying():
    model = GPT(tiny())
    assert model.lm_head.weight is model.tok_embed.weight


def test_flops_and_mfu():
    config = GPTConfig.full(65)
    N = gpt_param_count(config, non_embedding=True)
    assert flops_per_token(config) == 6 * N + 12 * 6 * 6 * 64 * 256
    tokens_per_second = 1e6
    assert estimate_mfu(config, tokens_per_second, 989e12) == pytest.approx(
        flops_per_token(config) * 1e6 / 989e12)
    assert estimate_mfu(config, tokens_per_second, "H100 SXM") == estimate_mfu(
        config, tokens_per_second, 989e12)
    assert PEAK_FLOPS["A100"] == 312e12 and PEAK_FLOPS["H200"] == 989e12
    assert gpu_peak_flops("cpu") is None
    assert "MFU n/a" in speed_report(config, 1234.0, "cpu")


# ----------------------------------------------------------------------------- forward

def test_forward_shapes_loss_and_initial_loss_near_uniform():
    config = tiny(vocab_size=50)
    model = GPT(config)
    idx = torch.randint(50, (3, 8))
    targets = torch.randint(50, (3, 8))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 8, 50)
    assert_close(loss, F.cross_entropy(logits.reshape(-1, 50), targets.reshape(-1)), name="loss")
    assert abs(loss.item() - math.log(50)) < 0.1  # small init: nearly uniform predictions
    assert model(idx)[1] is None
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_causal_a_future_token_changes_no_earlier_logit(positions):
    model = GPT(tiny(positions=positions)).double()
    idx = torch.randint(11, (2, 8))
    changed = idx.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    a, b = model(idx)[0], model(changed)[0]
    assert_close(a[:, :5], b[:, :5], name="logits before the change", rtol=1e-12, atol=1e-12)
    assert not torch.allclose(a[:, 5:], b[:, 5:])


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_trace_agrees_with_the_model_and_recomputes_each_layers_weights(positions):
    model = GPT(tiny(positions=positions, dropout=0.3, bias=True)).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.3)  # not the initial state: every part matters
    idx = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(0))
    stream, weights = trace(model, idx)
    assert stream.shape == (3, 3, 8, 16) and weights.shape == (2, 3, 2, 8, 8)
    with torch.no_grad():
        assert_close(model.ln_f(stream[-1]), model.hidden(idx), name="ln_f(last stream) vs hidden",
                     rtol=1e-10, atol=1e-12)
        for layer, block in enumerate(model.blocks):  # softmax(q k^T / sqrt(hs)) under a causal mask, by hand
            h = block.ln_1(stream[layer])
            q = block.attn.q_proj(h).view(3, 8, 2, 8).transpose(1, 2)  # (B, nh, T, hs)
            k = block.attn.k_proj(h).view(3, 8, 2, 8).transpose(1, 2)
            scores = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~causal_mask(8), float("-inf"))
            assert_close(weights[layer], torch.softmax(scores, dim=-1), name=f"weights of layer {layer}",
                         rtol=1e-10, atol=1e-12)


def test_lm_loss_ignores_minus_one():
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, -1, 2], [0, 4, -1]])
    keep = targets != -1
    expected = F.cross_entropy(logits[keep], targets[keep])
    assert_close(lm_loss(logits, targets), expected, name="lm_loss")


# ----------------------------------------------------------------------------- attention paths

@pytest.mark.parametrize("rotary", [False, True])
def test_fused_attention_path_equals_the_reference_path(rotary):
    mha = MultiHeadAttention(16, 4, rotary=rotary).double()
    x = torch.randn(2, 6, 16, dtype=f64)
    ref, weights = mha(x, x, x, is_causal=True)
    fast, none = mha(x, x, x, is_causal=True, need_weights=False)
    assert none is None and weights.shape == (2, 4, 6, 6)
    assert_close(fast, ref, name="fused vs reference attention", rtol=1e-10, atol=1e-12)
    explicit, _ = mha(x, x, x, causal_mask(6))  # is_causal is the same as the causal mask
    assert_close(ref, explicit, name="is_causal vs causal_mask", rtol=1e-12, atol=1e-12)
    pad = torch.ones(2, 1, 6, dtype=torch.bool)
    pad[1, 0, 4:] = False
    for need_weights in (True, False):
        out, _ = mha(x, x, x, pad, is_causal=True, need_weights=need_weights)
        expected, _ = mha(x, x, x, pad & causal_mask(6))
        assert_close(out, expected, name=f"causal + padding, need_weights={need_weights}",
                     rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_with_a_kv_cache_equals_full_attention(rotary, need_weights):
    mha = MultiHeadAttention(16, 4, rotary=rotary).double()
    x = torch.randn(2, 7, 16, dtype=f64)
    full, _ = mha(x, x, x, is_causal=True)
    cache = KVCache()
    parts = [x[:, :3], x[:, 3:4], x[:, 4:6], x[:, 6:]]  # a prefill, then 1 or 2 at a time
    outs = [mha(p, p, p, is_causal=True, need_weights=need_weights, kv_cache=cache)[0]
            for p in parts]
    assert len(cache) == 7
    assert_close(torch.cat(outs, dim=1), full, name="cached attention", rtol=1e-10, atol=1e-12)


def test_feed_forward_gelu_option():
    ff = FeedForward(8, 32, activation="gelu").double()
    x = torch.randn(2, 3, 8, dtype=f64)
    expected = ff.linear2(F.gelu(ff.linear1(x)))  # erf GELU, as nanoGPT's nn.GELU()
    assert_close(ff(x), expected, name="GELU feed-forward", rtol=1e-12)
    assert FeedForward(8, 32).activation == "relu"  # the default is unchanged
    with pytest.raises(ValueError, match="activation"):
        FeedForward(8, 32, activation="swish")


# ----------------------------------------------------------------------------- KV cache

@pytest.mark.parametrize("config", [tiny(), tiny(positions="sinusoidal", bias=True)],
                         ids=["learned", "sinusoidal+bias"])
def test_kv_cache_logits_equal_uncached_at_every_step_past_block_size(config):
    model = GPT(config).eval()
    B, bs = 2, config.block_size
    idx = torch.randint(config.vocab_size, (B, 3))  # a prompt of 3 tokens
    cache = model.new_cache()
    with torch.no_grad():
        for step in range(2 * bs + 3):  # well past block_size
            cached = model.next_token_logits(idx, cache)  # (B, V)
            uncached = model(idx[:, -bs:])[0][:, -1]  # nanoGPT: crop, run, last position
            assert_close(cached, uncached, name=f"cached logits at step {step} "
                         f"(context {idx.size(1)})", rtol=1e-5, atol=1e-5)
            assert len(cache[0]) == min(idx.size(1), bs)
            idx = torch.cat([idx, torch.randint(config.vocab_size, (B, 1))], dim=1)


def test_generate_is_deterministic_and_cache_does_not_change_samples():
    model = GPT(tiny())
    model.train()
    prompt = torch.randint(11, (2, 2))

    def run(use_cache, seed=7, **kw):
        g = torch.Generator().manual_seed(seed)
        return model.generate(prompt, 20, use_cache=use_cache, generator=g, **kw)

    a, b = run(True), run(True)
    assert a.shape == (2, 22) and torch.equal(a[:, :2], prompt)
    assert torch.equal(a, b)  # same seed, same tokens
    assert torch.equal(a, run(False))  # the cache changes nothing
    assert not torch.equal(a, run(True, seed=8))
    assert torch.equal(run(True, top_k=3, top_p=0.9), run(False, top_k=3, top_p=0.9))
    assert model.training  # mode restored


def test_greedy_generation_follows_the_argmax():
    model = GPT(tiny())
    idx = torch.randint(11, (1, 3))
    out = model.generate(idx, 12, temperature=0)  # 15 tokens: past block_size 8
    with torch.no_grad():
        for t in range(3, 15):
            expected = model(out[:, max(0, t - 8):t])[0][0, -1].argmax()
            assert out[0, t] == expected, f"token {t}"


# ----------------------------------------------------------------------------- sampling filters

def test_temperature_limits():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.5]])
    cold = torch.softmax(apply_temperature(logits, 1e-3), dim=-1)
    assert_close(cold, torch.tensor([[0.0, 1.0, 0.0, 0.0]]), name="T -> 0: one-hot")
    hot = torch.softmax(apply_temperature(logits, 1e4), dim=-1)
    assert_close(hot, torch.full((1, 4), 0.25), name="T -> inf: uniform", atol=1e-3)
    assert torch.equal(apply_temperature(logits, 1.0), logits)
    assert torch.equal(sample_next(logits, temperature=0), torch.tensor([1]))  # greedy
    assert sample_next(torch.tensor([[2.0, 5.0, 5.0]]), temperature=0).item() == 1  # lowest id
    with pytest.raises(ValueError):
        apply_temperature(logits, 0.0)


def test_top_k_keeps_exactly_k_with_ties_to_the_lower_id():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    out = top_k_filter(logits, 2)
    kept = torch.isfinite(out)
    assert kept.sum(dim=-1).tolist() == [2, 2]
    assert kept[0].tolist() == [False, True, True, False, False]  # ties: ids 1, 2 (not 3)
    assert kept[1].tolist() == [True, True, False, False, False]
    probs = torch.softmax(out, dim=-1)
    expected = torch.tensor([[0, 0.5, 0.5, 0, 0], [math.e / (1 + math.e), 1 / (1 + math.e), 0, 0, 0]])
    assert_close(probs, expected, name="renormalised top-k probabilities")
    assert torch.equal(top_k_filter(logits, 5), logits) and torch.equal(top_k_filter(logits, 9), logits)
    with pytest.raises(ValueError):
        top_k_filter(logits, 0)


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([0.05, 0.5, 0.15, 0.3], dtype=f64)
    logits = probs.log().unsqueeze(0)

    def kept(p):
        return torch.isfinite(top_p_filter(logits, p))[0].tolist()

    assert kept(0.01) == [False, True, False, False]  # the top token always stays
    assert kept(0.5) == [False, True, False, False]  # 0.5 alone reaches p
    assert kept(0.6) == [False, True, False, True]  # 0.5 + 0.3
    assert kept(0.79) == [False, True, False, True]
    assert kept(0.81) == [False, True, True, True]  # 0.5 + 0.3 + 0.15
    assert kept(0.99) == [True, True, True, True]
    assert kept(1.0) == [True, True, True, True]
    renormalised = torch.softmax(top_p_filter(logits, 0.6), dim=-1)[0]
    assert_close(renormalised, torch.tensor([0, 0.625, 0, 0.375], dtype=f64), name="top-p probs")
    with pytest.raises(ValueError):
        top_p_filter(logits, 0.0)


def test_sampling_frequencies_follow_the_filtered_distribution():
    probs = torch.tensor([0.1, 0.4, 0.2, 0.3])
    logits = probs.log().expand(20_000, 4)  # 20,000 independent draws in one call
    g = torch.Generator().manual_seed(0)
    draws = sample_next(logits, top_k=2, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert_close(freq, torch.tensor([0, 4 / 7, 0, 3 / 7]), name="top-2 frequencies", atol=0.02)
    draws = sample_next(logits, temperature=1.0, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert_close(freq, probs, name="plain sampling frequencies", atol=0.02)


# ----------------------------------------------------------------------------- beam search

def test_beam_search_against_brute_force():
    model = GPT(tiny(vocab_size=3, block_size=6)).double()
    prompt = torch.tensor([[0, 2]])
    n = 3
    best_score, best_seq = -math.inf, None
    for cont in itertools.product(range(3), repeat=n):
        seq = torch.cat([prompt, torch.tensor([cont])], dim=1)
        score = lm_log_prob(model, seq, start=2).item()
        if score > best_score:
            best_score, best_seq = score, seq
    exact = beam_search_lm(model, prompt, n, beam_size=3 ** (n - 1))  # keeps every prefix
    assert torch.equal(exact, best_seq)
    assert lm_log_prob(model, exact, start=2).item() == pytest.approx(best_score)
    greedy = model.generate(prompt, n, temperature=0)
    assert torch.equal(beam_search_lm(model, prompt, n, beam_size=1), greedy)
    beam2 = beam_search_lm(model, prompt, n, beam_size=2)
    assert lm_log_prob(model, beam2, 2) >= lm_log_prob(model, greedy, 2) - 1e-12


# ----------------------------------------------------------------------------- training

def test_configure_optimizer_decays_only_matrices():
    model = GPT(tiny(bias=True))
    opt = configure_optimizer(model, weight_decay=0.1, lr=1e-3, device="cpu")
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    n = sum(p.numel() for group in opt.param_groups for p in group["params"])
    assert n == gpt_param_count(model.config)  # every parameter once (the tied one too)
    assert not opt.defaults.get("fused")


@pytest.fixture(scope="module")
def shakespeare():
    return load_shakespeare(limit_chars=300_000)


def test_ci_gpt_learns_shakespeare_through_fit(shakespeare):
    data, steps = shakespeare, 120
    train_ids = torch.from_numpy(data.train)
    unigram = torch.bincount(train_ids, minlength=data.vocab_size).double() / len(train_ids)
    unigram_loss = -(unigram * unigram.clamp_min(1e-12).log()).sum().item()  # ~3.33 nats
    model = GPT(GPTConfig.ci(data.vocab_size))
    opt = configure_optimizer(model, weight_decay=0.1, lr=1e-2, betas=(0.9, 0.99), device="cpu")
    history = fit(model, opt, data.batches("train", 16, 64, steps), data.batches("val", 16, 64, 8),
                  epochs=1, loss_fn=lm_loss, clip=1.0, device="cpu", progress=False,
                  lr_schedule=cosine_schedule(1e-2, total_steps=steps, warmup_steps=10,
                                              min_lr=1e-3))
    assert history.throughput_unit == "tokens/s" and history.throughput > 0
    val_loss = history.val_loss[-1]
    assert val_loss < math.log(data.vocab_size) - 1.5  # uniform: 4.43 nats
    assert val_loss < unigram_loss - 0.5, (val_loss, unigram_loss)  # ~2.55 after 120 steps
    again = estimate_loss(model, data.get_batch, 16, 64, eval_iters=4, device="cpu")
    assert again == estimate_loss(model, data.get_batch, 16, 64, eval_iters=4, device="cpu")
    assert again["val"] < unigram_loss


def test_bench_runs_on_a_cpu(capsys):
    result = load_bench("bench_gpt").main(["--config", "ci", "--iters", "5", "--eval-iters", "2",
                         "--device", "cpu", "--limit-chars", "100000"])
    out = capsys.readouterr().out
    assert result["steps"] == 5 and result["device"] == "cpu"
    assert math.isfinite(result["val_loss"]) and result["tokens_per_second"] > 0
    assert math.isnan(result["mfu"])
    assert "tokens/s" in out and "MFU n/a" in out and "val" in out
