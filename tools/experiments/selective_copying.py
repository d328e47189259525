"""Chapter 10, §10.9: selective copying, a Mamba against an LTI SSM of the same size.

The task (Gu & Dao 2023, §3.1 and Fig. 2): a sequence of ``length`` positions holds
``tokens`` data symbols (drawn uniformly from ``symbols`` of them) at random, distinct
positions, in order, and the blank token everywhere else; then ``tokens`` copies of a marker
token follow, and at those last positions the model must output the data symbols in the order
they came. The spacing between data symbols changes from sequence to sequence, so a model
cannot find them by their distance from the end: it must pick them out by what they are.
The loss is the cross-entropy at the marker positions only; the score is the per-token
accuracy there, on 1 000 held-out sequences (chance: 1 / ``symbols``).

Two models of the same shape (an embedding, ``layers`` pre-norm residual blocks of width
``d_model``, a final RMSNorm and a linear head over the vocabulary):

- "Mamba": :class:`coursekit.MambaLM`, whose blocks run the selective SSM, Eq. (10.10)-(10.19);
- "LTI": the same block with the selective SSM replaced by :class:`coursekit.S4DLayer`, a
  diagonal SSM whose Δ, B and C do not depend on the input (the "Mamba architecture with an S4
  layer" of Gu & Dao's Table 1): in_proj, causal depthwise conv, silu, S4D, times silu(z),
  out_proj, with the same expansion, conv width and state size. Its parameter count is within
  a few per cent of the Mamba's (logged).

Both train with Adam (lr ``lr``, gradient norm clipped at ``clip``) for ``steps`` steps on
fresh batches. The seed draws the initial weights and the training batches (the same batches
for both models); the test set is the same for every seed. Logged per seed and model: the
parameter count, the training loss of every step, the test accuracy every ``eval_every``
steps, and at the end the accuracy per output position; for the Mamba also what the selection
does (``summarise_selection``): the step Δ_t of every channel of every block on the first test
sequence, and on the whole test set, per block, the mean Δ_t at data, blank and marker
positions and, per channel, at the blank just after a data token and at the other blanks.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from coursekit import MambaLM, S4DLayer, seed_everything
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "length": 64,
    "tokens": 4,
    "symbols": 8,
    "d_model": 16,
    "d_state": 8,
    "layers": 2,
    "expand": 2,
    "d_conv": 4,
    "steps": 2000,
    "batch": 32,
    "lr": 3e-3,
    "clip": 1.0,
    "eval_every": 50,
    "curve_test_size": 250,
    "test_size": 1000,
}
BLANK, MARKER = 0, 1  # the data symbols are the tokens 2, ..., symbols + 1
MODELS = ("Mamba", "LTI")


def vocab_size(config=CONFIG):
    return config["symbols"] + 2


def copying_batch(generator, batch, config=CONFIG):
    """tokens (B, L + K) long, targets (B, K): K data symbols at random distinct positions of
    the first L (in order), blanks elsewhere, then K markers; the targets are the data symbols
    in order."""
    length, k = config["length"], config["tokens"]
    positions = torch.rand(batch, length, generator=generator).argsort(1)[:, :k]
    positions = positions.sort(1).values  # (B, K), increasing
    targets = torch.randint(config["symbols"], (batch, k), generator=generator) + 2
    tokens = torch.full((batch, length + k), BLANK)
    tokens.scatter_(1, positions, targets)
    tokens[:, length:] = MARKER
    return tokens, targets


def test_set(config=CONFIG, size=None):
    """The held-out sequences every seed and model is scored on."""
    size = config["test_size"] if size is None else size
    return copying_batch(torch.Generator().manual_seed(12345), size, config)


class LTIMixer(nn.Module):
    """MambaMixer's layout with a time-invariant SSM: x (b, L, d_model) -> (b, L, d_model).

    in_proj -> causal depthwise conv1d -> silu -> S4DLayer (Eq. (10.4), (10.6)-(10.7)) ->
    times silu(z) -> out_proj; Eq. (10.16)-(10.19) with the selective scan replaced.
    """

    def __init__(self, d_model, d_state, expand=2, d_conv=4):
        super().__init__()
        d_inner = expand * d_model
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.ssm = S4DLayer(d_inner, d_state)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, x):
        length = x.shape[1]
        xs, z = self.in_proj(x).chunk(2, dim=-1)  # (b, L, d_inner) each
        xs = F.silu(self.conv1d(xs.transpose(1, 2))[..., :length]).transpose(1, 2)
        return self.out_proj(self.ssm(xs) * F.silu(z))


class LTIBlock(nn.Module):
    """x + LTIMixer(RMSNorm(x)), as :class:`coursekit.MambaBlock`."""

    def __init__(self, d_model, **mixer_kwargs):
        super().__init__()
        self.mixer = LTIMixer(d_model, **mixer_kwargs)
        self.norm = nn.RMSNorm(d_model, eps=1e-5)

    def forward(self, x):
        return x + self.mixer(self.norm(x))


class LTILM(nn.Module):
    """:class:`coursekit.MambaLM` with :class:`LTIBlock` layers: tokens (b, L) -> logits."""

    def __init__(self, vocab, d_model, n_layers, **mixer_kwargs):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.layers = nn.ModuleList(LTIBlock(d_model, **mixer_kwargs) for _ in range(n_layers))
        self.norm_f = nn.RMSNorm(d_model, eps=1e-5)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens):
        x = self.embedding(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm_f(x))


def make_model(name, config=CONFIG):
    kwargs = {"d_state": config["d_state"], "expand": config["expand"], "d_conv": config["d_conv"]}
    if name == "Mamba":
        return MambaLM(vocab_size(config), config["d_model"], config["layers"], **kwargs)
    if name == "LTI":
        return LTILM(vocab_size(config), config["d_model"], config["layers"], **kwargs)
    raise ValueError(f"model must be one of {MODELS}; got {name!r}")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def accuracy(model, test, config=CONFIG, batch=250):
    """Per-position accuracy (K,) at the marker positions of ``test``."""
    tokens, targets = test
    length, right = config["length"], []
    with torch.no_grad():
        for start in range(0, len(tokens), batch):
            logits = model(tokens[start : start + batch])[:, length:]  # (b, K, V)
            right.append(logits.argmax(-1) == targets[start : start + batch])
    return torch.cat(right).double().mean(0)


def step_sizes(mixer, x):
    """Δ_t of a :class:`coursekit.MambaMixer` on its input x (b, L, d_model), Eq. (10.10):
    -> (b, d_inner, L), recomputed from the mixer's parameters as its forward does."""
    length = x.shape[1]
    xs, _ = mixer.in_proj(x).chunk(2, dim=-1)
    xs = F.silu(mixer.conv1d(xs.transpose(1, 2))[..., :length])  # (b, d_inner, L)
    dlow = mixer.x_proj(xs.transpose(1, 2))[..., : mixer.dt_rank]  # (b, L, r)
    return F.softplus(dlow @ mixer.dt_proj.weight.T + mixer.dt_proj.bias).transpose(1, 2)


def selection(model, tokens, batch=250):
    """Δ_t (b, d_inner, L) of every block of a trained :class:`coursekit.MambaLM`, a list."""
    per_layer = [[] for _ in model.layers]
    with torch.no_grad():
        for start in range(0, len(tokens), batch):
            x = model.embedding(tokens[start : start + batch])
            for i, layer in enumerate(model.layers):
                per_layer[i].append(step_sizes(layer.mixer, layer.norm(x)))
                x = layer(x)
    return [torch.cat(deltas) for deltas in per_layer]


def summarise_selection(model, test, d_conv):
    """What the selection does, per block, on the test set: the mean Δ_t over all channels at
    data, blank and marker positions; per channel, the mean Δ_t at the blank just after a data
    token and at the other ("quiet") blanks past the conv's first d_conv - 1 positions; and
    Δ of every channel on the first test sequence."""
    tokens, _ = test
    kinds = {"data": tokens > MARKER, "blank": tokens == BLANK, "marker": tokens == MARKER}
    after = torch.zeros_like(kinds["blank"])
    after[:, 1:] = kinds["data"][:, :-1] & kinds["blank"][:, 1:]
    quiet = kinds["blank"] & ~after
    quiet[:, : d_conv - 1] = False
    deltas = selection(model, tokens)  # (N, d_inner, L) per block
    summary = {
        kind: [round(d.mean(1)[mask].mean().item(), 5) for d in deltas]
        for kind, mask in kinds.items()
    }
    for name, mask in (("after_data", after), ("quiet_blank", quiet)):
        summary[name] = [rounded(d.transpose(1, 2)[mask].mean(0).tolist(), 4) for d in deltas]
    summary["tokens"] = tokens[0].tolist()
    summary["delta"] = [[rounded(row, 3) for row in d[0].tolist()] for d in deltas]
    return summary


def train(model, seed, config=CONFIG):
    """Adam on fresh batches; returns the loss of every step and the test accuracy curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    batches = torch.Generator().manual_seed(1000 + seed)
    curve_test = test_set(config, config["curve_test_size"])
    length, vocab = config["length"], vocab_size(config)
    losses, curve = [], []
    for i in range(config["steps"]):
        tokens, targets = copying_batch(batches, config["batch"], config)
        logits = model(tokens)[:, length:]  # (B, K, V): the marker positions
        loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        losses.append(loss.item())
        if (i + 1) % config["eval_every"] == 0:
            curve.append(
                {"step": i + 1, "accuracy": accuracy(model, curve_test, config).mean().item()}
            )
    return losses, curve


def run(seed: int, config=CONFIG, models=MODELS) -> dict:
    results, test = {}, test_set(config)
    for name in models:
        seed_everything(seed)
        model = make_model(name, config)
        losses, curve = train(model, seed, config)
        per_position = accuracy(model, test, config)
        results[name] = {
            "parameters": count_parameters(model),
            "loss": rounded(losses),
            "curve": curve,
            "accuracy": per_position.mean().item(),
            "accuracy_per_position": per_position.tolist(),
        }
        if name == "Mamba":
            results[name]["selection"] = summarise_selection(model, test, config["d_conv"])
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
