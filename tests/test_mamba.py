"""coursekit.mamba against an element-by-element formula, the loop, and mambapy.

mambapy (a pure-PyTorch Mamba, test-only dependency in requirements.txt) is the independent
implementation: its ``MambaBlock.selective_scan`` (a Blelloch ``pscan``), its
``ResidualBlock`` and its ``LM``, loaded with the same weights as ours.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from coursekit.mamba import (
    MambaBlock,
    MambaCharLM,
    MambaLM,
    selective_scan,
    selective_scan_fast,
)
from coursekit.train import evaluate_language_model

mambapy_mamba = pytest.importorskip("mambapy.mamba")

F64 = torch.float64


def scan_inputs(batch=2, d=4, n=3, length=7, bc="time", groups=2, dtype=F64):
    u = torch.randn(batch, d, length, dtype=dtype)
    delta = torch.randn(batch, d, length, dtype=dtype)
    A = -torch.rand(d, n, dtype=dtype) * 2 - 0.1
    shape = {"fixed": (d, n), "time": (batch, n, length), "group": (batch, groups, n, length)}[bc]
    B, C = torch.randn(*shape, dtype=dtype), torch.randn(*shape, dtype=dtype)
    D = torch.randn(d, dtype=dtype)
    z = torch.randn(batch, d, length, dtype=dtype)
    bias = torch.randn(d, dtype=dtype)
    return [t.requires_grad_() for t in (u, delta, A, B, C, D, z, bias)]


def element_formula(u, delta, A, B, C, D, z, bias, softplus):
    """Every scalar of the selective SSM written with math, one (batch, channel, state) at a time."""
    batch, d, length = u.shape
    n = A.shape[1]
    out = torch.zeros(batch, d, length, dtype=F64)

    def pick(M, i, c, s, t):
        if M.dim() == 2:
            return M[c, s].item()
        if M.dim() == 3:
            return M[i, s, t].item()
        return M[i, c // (d // M.shape[1]), s, t].item()

    for i in range(batch):
        for c in range(d):
            h = [0.0] * n
            for t in range(length):
                step = delta[i, c, t].item() + bias[c].item()
                step = math.log1p(math.exp(step)) if softplus else step
                y = 0.0
                for s in range(n):
                    h[s] = (
                        math.exp(step * A[c, s].item()) * h[s]
                        + step * pick(B, i, c, s, t) * u[i, c, t].item()
                    )
                    y += pick(C, i, c, s, t) * h[s]
                y += D[c].item() * u[i, c, t].item()
                gate = z[i, c, t].item()
                out[i, c, t] = y * gate / (1 + math.exp(-gate))
    return out


@pytest.mark.parametrize("bc", ["fixed", "time", "group"])
@pytest.mark.parametrize("softplus", [False, True])
def test_selective_scan_matches_element_formula(bc, softplus):
    args = scan_inputs(2, 4, 3, 5, bc)
    u, delta, A, B, C, D, z, bias = args
    got = selective_scan(u, delta, A, B, C, D, z, bias, softplus)
    want = element_formula(*[t.detach() for t in args], softplus)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_selective_scan_optional_parts():
    u, delta, A, B, C, D, z, bias = scan_inputs(1, 2, 2, 4)
    plain = selective_scan(u, delta, A, B, C)
    torch.testing.assert_close(selective_scan(u, delta, A, B, C, D=D), plain + u * D[:, None])
    torch.testing.assert_close(selective_scan(u, delta, A, B, C, z=z), plain * F.silu(z))
    torch.testing.assert_close(
        selective_scan(u, delta, A, B, C, delta_bias=bias),
        selective_scan(u, delta + bias[:, None], A, B, C),
    )
    out, last = selective_scan(u, delta, A, B, C, return_last_state=True)
    assert last.shape == (1, 2, 2)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("bc", ["fixed", "time", "group"])
@pytest.mark.parametrize("strategy", ["loop", "blelloch", "chunked", "auto"])
def test_selective_scan_fast_equals_loop(strategy, bc, dtype):
    args = scan_inputs(2, 4, 3, 11, bc, dtype=dtype)
    tol = {torch.float32: 1e-5, F64: 1e-10}[dtype]
    ref, ref_last = selective_scan(*args, True, return_last_state=True)
    got, got_last = selective_scan_fast(*args, True, return_last_state=True, strategy=strategy)
    torch.testing.assert_close(got, ref, rtol=tol, atol=tol)
    torch.testing.assert_close(got_last, ref_last, rtol=tol, atol=tol)
    upstream = torch.randn_like(ref)
    want = torch.autograd.grad(ref, args, upstream)
    have = torch.autograd.grad(got, args, upstream)
    for g, w in zip(have, want, strict=True):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol)


def test_argument_checks():
    u, delta, A, B, C, D, z, bias = scan_inputs(2, 4, 3, 5)
    with pytest.raises(ValueError, match="u and delta"):
        selective_scan(u, delta[..., :3], A, B, C)
    with pytest.raises(ValueError, match="A must be real"):
        selective_scan(u, delta, A[:3], B, C)
    with pytest.raises(ValueError, match="B must be"):
        selective_scan(u, delta, A, torch.randn(2, 3, 3, 5, dtype=F64), C)
    with pytest.raises(ValueError, match="D must be"):
        selective_scan(u, delta, A, B, C, D=D[:2])


# ---------------------------------------------------------------------------------------------
# Against mambapy, float32, on its weights.

TOL = {"rtol": 1e-5, "atol": 1e-5}


def test_selective_scan_matches_mambapy():
    """mambapy's layout is (b, L, d); its delta arrives already softplus-ed with the bias."""
    config = mambapy_mamba.MambaConfig(d_model=8, n_layers=1, d_state=4)
    theirs = mambapy_mamba.MambaBlock(config)
    batch, length, d, n = 2, 13, config.d_inner, 4
    x = torch.randn(batch, length, d, requires_grad=True)
    delta = (0.1 * torch.randn(batch, length, d)).requires_grad_()
    A = -torch.rand(d, n).requires_grad_()
    B = torch.randn(batch, length, n, requires_grad=True)
    C = torch.randn(batch, length, n, requires_grad=True)
    D = torch.randn(d, requires_grad=True)
    leaves = (x, delta, A, B, C, D)
    upstream = torch.randn(batch, length, d)
    want = theirs.selective_scan(x, F.softplus(delta), A, B, C, D)
    want_grads = torch.autograd.grad(want, leaves, upstream)
    for scan in (selective_scan, selective_scan_fast):
        got = scan(
            x.transpose(1, 2),
            delta.transpose(1, 2),
            A,
            B.transpose(1, 2),
            C.transpose(1, 2),
            D,
            delta_softplus=True,
        ).transpose(1, 2)
        torch.testing.assert_close(got, want, **TOL)
        for g, w in zip(torch.autograd.grad(got, leaves, upstream), want_grads, strict=True):
            torch.testing.assert_close(g, w, **TOL)


def compare_modules(ours, theirs, inputs, key_map=lambda k: k):
    """Same weights: equal outputs, parameter gradients and (for float inputs) input gradients."""
    ours.load_state_dict({key_map(k): v for k, v in theirs.state_dict().items()})
    if inputs.is_floating_point():
        ours_in, theirs_in = (inputs.clone().requires_grad_() for _ in range(2))
    else:
        ours_in = theirs_in = inputs
    got, want = ours(ours_in), theirs(theirs_in)
    torch.testing.assert_close(got, want, **TOL)
    upstream = torch.randn_like(want)
    got.backward(upstream)
    want.backward(upstream)
    if inputs.is_floating_point():
        torch.testing.assert_close(ours_in.grad, theirs_in.grad, **TOL)
    theirs_grads = {key_map(k): p.grad for k, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_grads[name], **TOL, msg=name)


@pytest.mark.parametrize("fast", [False, True])
def test_mamba_block_matches_mambapy(fast):
    config = mambapy_mamba.MambaConfig(d_model=16, n_layers=1, d_state=4, d_conv=4)
    theirs = mambapy_mamba.ResidualBlock(config)
    with torch.no_grad():  # move every parameter off its initial value
        for p in theirs.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = MambaBlock(16, d_state=4, d_conv=4, fast=fast)
    compare_modules(ours, theirs, torch.randn(2, 13, 16))


class TheirLM(torch.nn.Module):
    """mambapy.lm.LM's structure: torch embedding, mambapy's Mamba, torch RMSNorm and head."""

    def __init__(self, config, vocab_size):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, config.d_model)
        self.mamba = mambapy_mamba.Mamba(config)
        self.norm_f = torch.nn.RMSNorm(config.d_model, eps=config.rms_norm_eps)
        self.lm_head = torch.nn.Linear(config.d_model, vocab_size, bias=False)

    def forward(self, tokens):
        return self.lm_head(self.norm_f(self.mamba(self.embedding(tokens))))


def test_mamba_lm_matches_mambapy():
    config = mambapy_mamba.MambaConfig(d_model=16, n_layers=2, d_state=4)
    theirs = TheirLM(config, vocab_size=11)
    ours = MambaLM(11, 16, 2, d_state=4)
    tokens = torch.randint(0, 11, (2, 9))
    compare_modules(ours, theirs, tokens, lambda k: k.replace("mamba.layers.", "layers."))


def pieces(length, cuts):
    """Slices of range(length) cut at ``cuts``."""
    ends = [0, *cuts, length]
    return [slice(a, b) for a, b in zip(ends, ends[1:], strict=False)]


@pytest.mark.parametrize("scan", [selective_scan, selective_scan_fast])
def test_selective_scan_in_pieces_equals_whole(scan):
    """Scanning [0, 3), [3, 4), [4, 11) from the state each piece ends with gives the one scan
    over [0, 11), values and every gradient (the initial state's included)."""
    torch.manual_seed(0)
    u, delta, A, B, C, D, z, bias = scan_inputs(length=11)
    kwargs = {"delta_bias": bias, "delta_softplus": True}
    whole = scan(u, delta, A, B, C, D, z, **kwargs)
    upstream = torch.randn_like(whole)
    want = torch.autograd.grad(whole, (u, delta, A, B, C, D, z, bias), upstream)
    outs, h = [], None
    for s in pieces(11, [3, 4]):
        out, h = scan(
            u[..., s], delta[..., s], A, B[..., s], C[..., s], D, z[..., s],
            return_last_state=True, initial_state=h, **kwargs,
        )  # fmt: skip
        outs.append(out)
    got = torch.cat(outs, dim=-1)
    torch.testing.assert_close(got, whole, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(got, (u, delta, A, B, C, D, z, bias), upstream)
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fast", [False, True])
def test_mamba_lm_in_pieces_equals_whole(fast):
    """Pieces of 1, 2 (shorter than the conv window) and 6 tokens, each started from the state
    the one before returned, give the logits of one call over all 9 tokens (the call that
    test_mamba_lm_matches_mambapy checks against mambapy)."""
    torch.manual_seed(0)
    model = MambaLM(11, 16, 2, d_state=4, d_conv=4, fast=fast).double()
    tokens = torch.randint(0, 11, (3, 9))
    whole = model(tokens)
    logits, state = [], None
    for s in pieces(9, [1, 3]):
        out, state = model(tokens[:, s], state, return_state=True)
        logits.append(out)
    torch.testing.assert_close(torch.cat(logits, dim=1), whole, rtol=1e-10, atol=1e-10)


def test_mamba_char_lm_is_time_major_and_scored_as_one_pass():
    """MambaCharLM(tokens (T, B)) is MambaLM on tokens.T, transposed back; scored in windows
    of 4 with the state carried, a text gets the loss of one pass over it."""
    torch.manual_seed(0)
    model = MambaCharLM(11, 16, 2, d_state=4).double()
    ids = torch.randint(0, 11, (41,))
    logits, _ = model(ids[:, None])
    torch.testing.assert_close(logits.transpose(0, 1), model.lm(ids[None]))
    one_pass = F.cross_entropy(model.lm(ids[None, :-1])[0], ids[1:]).item()
    assert evaluate_language_model(model, ids, seq_len=4, batch_size=1) == pytest.approx(
        one_pass, rel=1e-10
    )


@pytest.mark.parametrize(
    "state",
    [
        [(torch.zeros(2, 32, 3), torch.zeros(2, 32, 4))],  # one layer of two
        [(torch.zeros(2, 32, 3), torch.zeros(2, 32, 5))] * 2,  # n = 5, not 4
        [(torch.zeros(1, 32, 3), torch.zeros(1, 32, 4))] * 2,  # another batch size
        [torch.zeros(2, 32, 4)] * 2,  # not a pair
    ],
)
def test_mamba_lm_rejects_a_state_it_did_not_make(state):
    model = MambaLM(11, 16, 2, d_state=4, d_conv=4)
    with pytest.raises(ValueError, match="state"):
        model(torch.zeros(2, 5, dtype=torch.long), state)


@pytest.mark.gpu
def test_mamba_block_on_cuda_equals_cpu():
    ours = MambaBlock(16, d_state=4)
    x = torch.randn(2, 33, 16)
    want = ours(x)
    got = ours.cuda()(x.cuda())
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-5)
