"""What only a CUDA GPU exercises, skipped without one (CI has none): the fused attention
kernels, the KV cache and sampling with tensors on the GPU, bf16 autocast with fused AdamW
through workbook.train.fit, the checks and heat maps reading bf16 GPU tensors, and the GPT
benchmark's MFU line. On a GPU machine: ``.venv/bin/pytest tests/lib/test_cuda.py``."""

import copy
import math

import matplotlib.pyplot as plt
import pytest
import torch

from helpers import load_bench
from workbook import checks, plots, runtime
from workbook.checks import assert_close
from workbook.data.shakespeare import load_shakespeare
from workbook.nn.attention import MultiHeadAttention
from workbook.nn.gpt import GPT, GPTConfig, configure_optimizer, gpu_peak_flops, lm_loss
from workbook.nn.transformer import Transformer, TransformerConfig, sequence_loss
from workbook.train import cosine_schedule, fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def _exact_float32():
    """tf32 matmuls (bench_gpt turns them on) keep 10 mantissa bits: the float32
    comparisons here need true float32."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def gpt_config(**overrides) -> GPTConfig:
    """The full model's width and heads (384, 6: the sizes the fused kernels see in
    training), two layers and a short context so that steps past it stay quick."""
    settings = dict(vocab_size=84, block_size=32, num_layers=2, num_heads=6, d_model=384,
                    dropout=0.0)
    settings.update(overrides)
    return GPTConfig(**settings)


def test_fused_attention_on_cuda_equals_the_float64_reference():
    mha = MultiHeadAttention(384, 6).to(CUDA)
    reference = copy.deepcopy(mha).double().cpu()
    x = torch.randn(4, 100, 384, device=CUDA)
    fast, none = mha(x, x, x, is_causal=True, need_weights=False)  # SDPA's fused kernel
    expected, _ = reference(*(3 * [x.double().cpu()]), is_causal=True)  # softmax(QK^T)V
    assert none is None and fast.device.type == "cuda" and fast.dtype == torch.float32
    assert_close(fast, expected, name="fused CUDA attention vs float64", rtol=1e-4, atol=1e-5)
    with runtime.autocast(CUDA):  # bf16 operands: about 3 significant digits
        half, _ = mha(x, x, x, is_causal=True, need_weights=False)
    assert half.dtype == torch.bfloat16
    assert_close(half, expected, name="bf16 CUDA attention vs float64", rtol=0.05, atol=0.02)


def test_kv_cache_logits_equal_uncached_on_cuda_at_every_step():
    config = gpt_config()
    model = GPT(config).to(CUDA).eval()
    bs = config.block_size
    idx = torch.randint(config.vocab_size, (2, 3), device=CUDA)
    cache = model.new_cache()
    with torch.no_grad():
        for step in range(2 * bs + 3):  # past block_size: the cache then slides
            cached = model.next_token_logits(idx, cache)  # (B, V)
            uncached = model(idx[:, -bs:])[0][:, -1]
            assert cached.device.type == "cuda"
            assert_close(cached, uncached, name=f"cached logits on CUDA at step {step}",
                         rtol=1e-5, atol=1e-5)
            idx = torch.cat([idx, torch.randint(config.vocab_size, (2, 1), device=CUDA)], 1)


@pytest.mark.parametrize("generator_device", ["cpu", "cuda"])
def test_generate_on_cuda(generator_device):
    model = GPT(gpt_config()).to(CUDA)
    prompt = torch.randint(84, (2, 3), device=CUDA)

    def run(use_cache, **kw):
        g = torch.Generator(device=generator_device).manual_seed(7)
        return model.generate(prompt, 40, use_cache=use_cache, generator=g, **kw)

    out = run(True)
    assert out.device.type == "cuda" and out.shape == (2, 43) and torch.equal(out[:, :3], prompt)
    assert torch.equal(out, run(True))  # same seed, same tokens
    assert torch.equal(out, run(False))  # the cache changes no sample
    assert torch.equal(run(True, top_k=5, top_p=0.9), run(False, top_k=5, top_p=0.9))
    greedy = model.generate(prompt, 5, temperature=0)
    with torch.no_grad():
        first = model(prompt)[0][:, -1].argmax(-1)
    assert torch.equal(greedy[:, 3], first)
    assert model.training  # mode restored


def test_gpt_learns_shakespeare_on_cuda_with_bf16_autocast_and_fused_adamw():
    data, steps = load_shakespeare(limit_chars=300_000), 150
    torch.manual_seed(0)
    model = GPT(GPTConfig.ci(data.vocab_size)).to(CUDA)
    opt = configure_optimizer(model, weight_decay=0.1, lr=1e-2, betas=(0.9, 0.99), device=CUDA)
    assert opt.defaults.get("fused")  # one kernel per step, not a loop over tensors
    with runtime.autocast(CUDA):
        logits, _ = model(torch.zeros((1, 4), dtype=torch.long, device=CUDA))
    assert logits.dtype == torch.bfloat16  # autocast is on
    history = fit(model, opt, data.batches("train", 16, 64, steps, device=CUDA),
                  data.batches("val", 16, 64, 8, device=CUDA), epochs=1, loss_fn=lm_loss,
                  clip=1.0, device=CUDA, progress=False,
                  lr_schedule=cosine_schedule(1e-2, total_steps=steps, warmup_steps=10,
                                              min_lr=1e-3))
    assert all(p.dtype == torch.float32 and p.device.type == "cuda" for p in model.parameters())
    assert history.throughput_unit == "tokens/s" and history.throughput > 0
    train_ids = torch.from_numpy(data.train)
    unigram = torch.bincount(train_ids, minlength=data.vocab_size).double() / len(train_ids)
    unigram_loss = -(unigram * unigram.clamp_min(1e-12).log()).sum().item()  # ~3.33 nats
    assert history.val_loss[-1] < unigram_loss - 0.5, (history.val_loss, unigram_loss)


def test_transformer_trains_on_cuda_and_its_bf16_weights_plot():
    """Notebook 09's GPU path: the encoder-decoder under bf16 autocast, then its
    attention weights (bf16 on the GPU) through the checks and a heat map."""
    config = TransformerConfig(src_vocab_size=12, tgt_vocab_size=12, d_model=32, num_heads=4,
                               num_layers=1, d_ff=64, dropout=0.0, max_len=16)
    model = Transformer(config).to(CUDA)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, fused=True)
    src = torch.randint(3, 12, (32, 6), device=CUDA)
    bos, eos = torch.full((32, 1), 1, device=CUDA), torch.full((32, 1), 2, device=CUDA)
    tgt = torch.cat([bos, src, eos], dim=1)
    losses = []
    for _ in range(40):
        with runtime.autocast(CUDA):
            loss = sequence_loss(model(src, tgt[:, :-1]), tgt[:, 1:], 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    mha = MultiHeadAttention(32, 4).to(CUDA)
    x = torch.randn(1, 5, 32, device=CUDA)
    with runtime.autocast(CUDA):
        _, weights = mha(x, x, x)  # (1, 4, 5, 5); autocast runs softmax in float32
    weights = weights.to(torch.bfloat16)  # as a student's bf16 model would hand them over
    rows = checks.to_numpy(weights[0, 0]).sum(axis=1)
    assert abs(rows - 1).max() < 2e-2  # each query's weights sum to 1
    ax = plots.attention_heatmap(None, weights[0, 0])
    plt.close(ax.figure)


def test_bench_gpt_reports_mfu_on_cuda(capsys):
    result = load_bench("bench_gpt").main(["--config", "ci", "--iters", "30", "--eval-iters", "2",
                         "--device", "cuda", "--limit-chars", "100000"])
    out = capsys.readouterr().out
    assert result["device"] == "cuda" and math.isfinite(result["val_loss"])
    peak = gpu_peak_flops(CUDA)
    if peak is not None:  # a GPU whose bf16 peak the library knows (A100, H100, H200)
        assert 0 < result["mfu"] < 1 and f"of {peak[0]} bf16 peak" in out
    else:
        assert math.isnan(result["mfu"]) and "MFU n/a" in out
