"""Training for extractability: a regulariser that makes a net's states fall into few regions.

``fx.train_classifier(..., extractability=0.3)`` adds ``strength * term`` to the task loss,
where ``term`` acts on the net's recurrent states only (never on its outputs, so it does not
assume two classes). The model stays an ordinary ``nn.LSTM``/``nn.GRU``/``nn.RNN``
:class:`~fsm_extract.nets.models.RNNClassifier`: whatever the regulariser needs (centroids,
noise) lives in the training loop and is not saved with the net.

The state of a step is the net's full recurrent state after it, every layer's ``h`` (and an
LSTM's ``c``), the state extraction traces. ``nn.LSTM`` returns only the top layer's ``h`` at
every step; the rest is recomputed from it in parallel over the steps (the gates of every step
need only the previous ``h``; the cell vector is then an elementwise scan with its backward
written out), so a regularised epoch costs 1.6-2x a plain one (3-4 ms more per batch of 32 on
one CPU core for 8-16 units), where unrolling the net step by step cost about 7x.

Methods (``Extractability(method=...)``):

- ``"centroids"`` (default): pull every state to a learnable set of centroids (Wang &
  Niepert, ICML 2019, as a loss instead of an architecture change): the expected squared
  distance to a soft-assigned centroid (softmax over negative distances, its temperature
  annealed from ``temperature[0]`` to ``temperature[1]`` over the epochs), plus a hinge keeping
  the centroids at least ``separation`` apart. The best of the three where measured: on
  random 8- and 10-state DFAs with under-trained 8- and 16-unit LSTMs it made the nets both
  more accurate and better explained (automata of the DFA's own size, 1-1.7 points more
  prefix agreement), and cost 0.1 point of accuracy on Tomita 7 (see the README).
- ``"noise"``: noise injection on the recurrent state as a loss: every state the net left is
  perturbed with Gaussian noise (standard deviation ``noise``), the step is run again from it,
  and the squared distance to the unperturbed next state (per unit variance of the noise) is
  penalised. Perturbations must die out: the net's steps contract onto stable regions. It
  cost accuracy wherever measured (0.3-4 points at strength 0.03).
- ``"ternary"``: the squared distance of every ``h`` unit (and an LSTM's ``tanh(c)``) to the
  nearest of -1, 0 and 1 (quantised bottleneck networks, Koul et al., ICLR 2019, as a penalty).
  Best of all on the 2-symbol task, less accurate than the centroids on the 3-symbol one.

``horizon`` (off by default) applies the term also to the states of unlabelled words longer than
any training word, where extraction is tested and the net drifts. Measured on the 12 tasks of
``benchmarks/bench_regularizer.py`` (``--horizon 3``): at strength 0.1 it met the target on 4
tasks instead of 3 (the counter mod4 trained to length 10 and tested to 50 reached 100%), at
0.3 on 2 instead of 4, and training took about 2x plain instead of 1.6x (benchmarks/README.md).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_float, check_int, check_seed
from ..errors import ArgumentTypeError, ValidationError

__all__ = ["Extractability", "ExtractabilityMethod", "METHODS", "Regularizer", "as_extractability"]

ExtractabilityMethod = Literal["centroids", "noise", "ternary"]
METHODS: tuple[str, ...] = ("centroids", "noise", "ternary")
#: The largest strength accepted (the task loss per target is of order 1).
MAX_STRENGTH = 100.0


@dataclass(frozen=True)
class Extractability:
    """The regulariser of :func:`~fsm_extract.nets.training.train_classifier`
    (``extractability=fx.Extractability(...)``; a number ``s`` means ``Extractability(strength=s)``).

    Frozen and validated on construction: a bad value raises a ValidationError naming it.

    Parameters
    ----------
    strength : float, default 0.3
        Weight of the term in the loss (the task loss is a mean per target); 0 turns it off.
        In [0, 100]. Measured: 0.1-0.3 for ``"centroids"`` and ``"ternary"`` (1.0 cost
        accuracy), 0.03 for ``"noise"`` (0.1 cost more).
    method : {"centroids", "noise", "ternary"}, default "centroids"
        See the module docstring.
    n_centroids : int, default 16
        Centroids of ``"centroids"`` (2..1024): more than the automaton should need.
    temperature : (float, float), default (0.1, 0.001)
        Softmax temperature of ``"centroids"`` at the first and the last epoch (annealed
        geometrically between them; distances are mean squares per coordinate).
    separation : float, default 0.1
        Mean squared distance per coordinate that ``"centroids"`` keeps between centroids.
    noise : float, default 0.1
        Standard deviation of ``"noise"``'s perturbation.
    horizon : float, default 0.0
        0: the term acts on the labelled batch's states only. Otherwise (in [1, 100]) every
        ``horizon_every``-th batch also runs the net on ``horizon_words`` unlabelled words
        ``horizon`` times as long as the longest training word (seeded random concatenations of
        training words; no labels are used), and the term is the mean over both batches' steps:
        it acts on the long words extraction is tested on, not only on those the net was
        trained on.
    horizon_words : int, default 16
        Unlabelled long words of each long batch (1..1024) when ``horizon`` is on.
    horizon_every : int, default 4
        The long words run with every ``horizon_every``-th labelled batch (1..1024), from the
        first: a long batch costs about as much as a regularised labelled batch whatever its
        words (the steps run one after another), so spacing them keeps training time down.
    """

    strength: float = 0.3
    method: ExtractabilityMethod = "centroids"
    n_centroids: int = 16
    temperature: tuple[float, float] = (0.1, 0.001)
    separation: float = 0.1
    noise: float = 0.1
    horizon: float = 0.0
    horizon_words: int = 16
    horizon_every: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "strength", check_float("strength", self.strength, min=0.0, max=MAX_STRENGTH))
        check_choice("method", self.method, METHODS)
        check_int("n_centroids", self.n_centroids, min=2, max=1024)
        temp = self.temperature
        if not isinstance(temp, (tuple, list)) or len(temp) != 2:
            raise ArgumentTypeError(f"temperature={temp!r} must be a pair (first, last) of numbers")
        first = check_float("temperature[0]", temp[0], min=0.0, min_inclusive=False)
        last = check_float("temperature[1]", temp[1], min=0.0, min_inclusive=False)
        if last > first:
            raise ValidationError(f"temperature={temp!r} must anneal: temperature[1]={last} must be <= temperature[0]={first}")
        object.__setattr__(self, "temperature", (first, last))
        object.__setattr__(self, "separation", check_float("separation", self.separation, min=0.0))
        object.__setattr__(self, "noise", check_float("noise", self.noise, min=0.0, min_inclusive=False, max=10.0))
        horizon = check_float("horizon", self.horizon, min=0.0, max=100.0)
        if 0.0 < horizon < 1.0:
            raise ValidationError(f"horizon={horizon} must be 0 (off) or >= 1 (times the longest training word)")
        object.__setattr__(self, "horizon", horizon)
        check_int("horizon_words", self.horizon_words, min=1, max=1024)
        check_int("horizon_every", self.horizon_every, min=1, max=1024)

    def to_dict(self) -> dict[str, Any]:
        """The settings, as ``model.metadata["extractability"]`` records them."""
        out = asdict(self)
        out["temperature"] = list(self.temperature)
        return out


def as_extractability(value: Any) -> Extractability | None:
    """``train_classifier``'s ``extractability``: a number (the strength of the default
    method) or an :class:`Extractability`; None when the strength is 0 (plain training)."""
    if isinstance(value, Extractability):
        options = value
    else:
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
            raise ArgumentTypeError(
                f"extractability={value!r} must be a number (the strength) or an fx.Extractability, got {type(value).__name__}")
        options = Extractability(strength=check_float("extractability", value, min=0.0, max=MAX_STRENGTH))
    return options if options.strength > 0.0 else None


# ----------------------------------------------------------------------------- the states
@contextlib.contextmanager
def _captured(rnn: nn.Module) -> Iterator[list]:
    """Capture the recurrent layer's input and output sequence of every forward call (the hook
    is removed on exit)."""
    seen: list = []

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        seen.append((args[0], output[0]))

    handle = rnn.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _weights(rnn: nn.RNNBase, layer: int) -> tuple:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of ``layer`` (the biases None without them)."""
    return tuple(getattr(rnn, f"{name}_l{layer}", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _cell_step(rnn: nn.RNNBase, layer: int, x: torch.Tensor, state: Any) -> Any:
    """One step of ``layer`` for a batch of inputs and states (rows): the next state."""
    w = _weights(rnn, layer)
    if isinstance(rnn, nn.LSTM):
        return torch.lstm_cell(x, state, *w)
    if isinstance(rnn, nn.GRU):
        return torch.gru_cell(x, state, *w)
    step = torch.rnn_tanh_cell if rnn.nonlinearity == "tanh" else torch.rnn_relu_cell
    return step(x, state, *w)


class _LinearScan(torch.autograd.Function):
    """``c[t] = f[t] * c[t-1] + u[t]`` from ``c[-1] = 0`` over the steps (dim 1) of (B, T, H)
    tensors, with its backward written out: two loops of one in-place operation per step
    (steps first, so each step is contiguous), not an autograd graph of 3T nodes (that graph
    cost more than the net's own step)."""

    @staticmethod
    def forward(ctx: Any, f: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        f_t = f.transpose(0, 1).contiguous()
        c = u.transpose(0, 1).clone(memory_format=torch.contiguous_format)  # a copy of u (even of one row)
        steps, rates = c.unbind(0), f_t.unbind(0)
        for t in range(1, len(steps)):
            steps[t].addcmul_(rates[t], steps[t - 1])
        ctx.save_for_backward(f_t, c)
        return c.transpose(0, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f_t, c = ctx.saved_tensors
        g = torch.empty_like(c)
        g.copy_(grad.transpose(0, 1))  # a copy: grad itself is never written to
        steps, rates = g.unbind(0), f_t.unbind(0)
        for t in range(len(steps) - 2, -1, -1):
            steps[t].addcmul_(rates[t + 1], steps[t + 1])  # dL/du[t] = dL/dc[t] + f[t+1] * dL/du[t+1]
        grad_f = torch.zeros_like(g)
        torch.mul(g[1:], c[:-1], out=grad_f[1:])  # dL/df[t] = dL/du[t] * c[t-1]
        return grad_f.transpose(0, 1), g.transpose(0, 1)


def _previous(t: torch.Tensor) -> torch.Tensor:
    """The state before every step of a (B, T, H) sequence: the zero state, then ``t[:, :-1]``."""
    return nn.functional.pad(t[:, :-1], (0, 0, 1, 0))


def _lstm_cells(rnn: nn.LSTM, layer: int, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The cell vectors (B, T, H) of an LSTM layer with inputs x (B, T, E) and outputs h
    (B, T, H), from the zero state: the gates of every step need only the previous ``h``, so
    they are computed at once; then the linear recurrence ``c[t] = f[t] * c[t-1] + i[t] * g[t]``."""
    w_ih, w_hh, b_ih, b_hh = _weights(rnn, layer)
    h_prev = _previous(h)
    three = 3 * rnn.hidden_size  # the input, forget and cell gates (the output gate is not needed)
    bias = None if b_ih is None else b_ih[:three] + b_hh[:three]
    gates = nn.functional.linear(torch.cat([x, h_prev], dim=-1), torch.cat([w_ih[:three], w_hh[:three]], dim=1), bias)
    i, f, g = gates.chunk(3, dim=-1)
    return _LinearScan.apply(torch.sigmoid(f), torch.sigmoid(i) * torch.tanh(g))


@dataclass
class _Layer:
    """One layer's inputs (B, T, E), hidden states (B, T, H) and, for an LSTM, cell vectors."""

    x: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor | None


def _layers(rnn: nn.RNNBase, x: torch.Tensor, top: torch.Tensor) -> list[_Layer]:
    """Every layer's states, given the stack's input ``x`` and top-layer output ``top``
    (lower layers of a stack are run again, one fused call each)."""
    out = []
    inp = x
    for layer in range(rnn.num_layers):
        if layer == rnn.num_layers - 1:
            h = top
        else:
            h = _run_layer(rnn, layer, inp)
        c = _lstm_cells(rnn, layer, inp, h) if isinstance(rnn, nn.LSTM) else None
        out.append(_Layer(inp, h, c))
        inp = h
    return out


def _run_layer(rnn: nn.RNNBase, layer: int, x: torch.Tensor) -> torch.Tensor:
    """The outputs (B, T, H) of one layer of a stack, from the zero state (one fused call)."""
    weights = [w for w in _weights(rnn, layer) if w is not None]
    h0 = torch.zeros(1, x.shape[0], rnn.hidden_size, dtype=x.dtype, device=x.device)
    flags = (rnn.bias, 1, 0.0, True, False, True)  # has_biases, num_layers, dropout, train, bidirectional, batch_first
    if isinstance(rnn, nn.LSTM):
        return torch.lstm(x, (h0, h0), weights, *flags)[0]
    if isinstance(rnn, nn.GRU):
        return torch.gru(x, h0, weights, *flags)[0]
    run = torch.rnn_tanh if rnn.nonlinearity == "tanh" else torch.rnn_relu
    return run(x, h0, weights, *flags)[0]


# ----------------------------------------------------------------------------- the terms
class Regularizer:
    """The regulariser of one training run: its parameters (centroids) and its term.

    Parameters
    ----------
    model : RNNClassifier
    options : Extractability
    epochs : int
        Epochs the run may take (the temperature is annealed over them).
    seed : int
        Seeds the centroids, the noise and the long words (not the training's shuffling).
    words : (symbols, offsets), optional
        The training words' CSR encoding (:meth:`Dataset.encode`), which ``horizon``'s long
        words are concatenated from; without it (or with only empty words) ``horizon`` is off.
    """

    def __init__(self, model: Any, options: Extractability, *, epochs: int, seed: int, words: tuple | None = None) -> None:
        self.options = options
        self.epochs = check_int("epochs", epochs, min=1)
        self.gen = torch.Generator().manual_seed(check_seed("seed", seed) + 1)
        self.rng = np.random.default_rng(seed + 2)
        rnn = model.rnn
        width = rnn.hidden_size * rnn.num_layers * (2 if isinstance(rnn, nn.LSTM) else 1)
        self.centroids: nn.Parameter | None = None
        if options.method == "centroids":
            init = torch.rand(options.n_centroids, width, generator=self.gen) * 2.0 - 1.0  # uniform in [-1, 1]
            weight = next(rnn.parameters())
            self.centroids = nn.Parameter(init.to(device=weight.device, dtype=weight.dtype))
        self.temperature = options.temperature[0]
        self.batches = 0  # labelled batches seen (the long words run with every horizon_every-th)
        self.pool: tuple | None = None  # (symbols, starts, lengths) of the nonempty training words
        if options.horizon > 0 and words is not None:
            symbols, offsets = (np.asarray(a) for a in words)
            lengths = np.diff(offsets)
            keep = np.flatnonzero(lengths > 0)
            if keep.size:
                self.pool = (symbols.astype(np.int64), offsets[keep], lengths[keep])
                self.long_len = max(1, int(round(options.horizon * lengths.max())))

    def parameters(self) -> list[nn.Parameter]:
        """What the optimiser trains besides the net (the centroids)."""
        return [self.centroids] if self.centroids is not None else []

    def start_epoch(self, epoch: int) -> None:
        """Anneal the temperature for ``epoch`` (0-based)."""
        first, last = self.options.temperature
        share = epoch / (self.epochs - 1) if self.epochs > 1 else 1.0
        self.temperature = first * (last / first) ** min(share, 1.0)

    def logits(self, model: Any, ids: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``model(ids)`` and the regulariser's term on the steps ``valid`` (B, T) bool (and,
        with ``horizon``, on every step of a batch of unlabelled long words)."""
        with _captured(model.rnn) as seen:
            logits = model(ids)
        x, top = seen[-1]
        term = self._term(model.rnn, _layers(model.rnn, x, top), valid)
        self.batches += 1
        if self.pool is not None and (self.batches - 1) % self.options.horizon_every == 0:
            long_ids = self.long_words().to(ids.device)
            emb = model.embedding(long_ids)
            long_top = model.rnn(emb)[0]
            long_valid = torch.ones(long_ids.shape, dtype=torch.bool, device=ids.device)
            long_term = self._term(model.rnn, _layers(model.rnn, emb, long_top), long_valid)
            n, m = int(valid.sum()), long_ids.numel()
            term = (n * term + m * long_term) / (n + m)
        return logits, term

    def long_words(self) -> torch.Tensor:
        """``horizon_words`` unlabelled words of ``long_len`` symbols (B, long_len): seeded random
        concatenations of nonempty training words, cut to length."""
        symbols, starts, lengths = self.pool
        rows = []
        for _ in range(self.options.horizon_words):
            picks: list[int] = []
            while lengths[picks].sum() < self.long_len:
                picks.extend(self.rng.integers(len(lengths), size=8).tolist())
            picks = picks[: int(np.searchsorted(np.cumsum(lengths[picks]), self.long_len)) + 1]
            rows.append(np.concatenate([symbols[starts[i]: starts[i] + lengths[i]] for i in picks])[: self.long_len])
        return torch.from_numpy(np.stack(rows))

    def _term(self, rnn: nn.RNNBase, layers: list[_Layer], valid: torch.Tensor) -> torch.Tensor:
        method = self.options.method
        if method == "centroids":
            return self._centroids(layers, valid)
        if method == "noise":
            return self._noise(rnn, layers, valid)
        return self._ternary(layers, valid)

    def _centroids(self, layers: list[_Layer], valid: torch.Tensor) -> torch.Tensor:
        parts = [p for layer in layers for p in (layer.h, layer.c) if p is not None]
        states = torch.cat(parts, dim=-1)[valid]
        cents = self.centroids.to(states.dtype)
        width = states.shape[-1]
        d = torch.cdist(states, cents).square() / width  # (n_steps, n_centroids) mean squares per coordinate
        pull = (torch.softmax(d / -self.temperature, dim=1) * d).sum(1).mean()
        push = torch.relu(self.options.separation - torch.pdist(cents).square() / width).mean()
        return pull + push

    def _noise(self, rnn: nn.RNNBase, layers: list[_Layer], valid: torch.Tensor) -> torch.Tensor:
        sigma = self.options.noise
        total = 0.0
        for index, layer in enumerate(layers):
            x, h, h_prev = layer.x[valid], layer.h[valid], _previous(layer.h)[valid]
            if layer.c is not None:
                c, c_prev = layer.c[valid], _previous(layer.c)[valid]
                h2, c2 = _cell_step(rnn, index, x, (self._perturbed(h_prev), self._perturbed(c_prev)))
                total = total + ((h2 - h) ** 2).mean() + ((c2 - c) ** 2).mean()
            else:
                h2 = _cell_step(rnn, index, x, self._perturbed(h_prev))
                total = total + ((h2 - h) ** 2).mean()
        return total / (sigma * sigma * len(layers))

    def _perturbed(self, t: torch.Tensor) -> torch.Tensor:
        return t + self.options.noise * torch.randn(t.shape, generator=self.gen).to(t)

    def _ternary(self, layers: list[_Layer], valid: torch.Tensor) -> torch.Tensor:
        parts = [p for layer in layers for p in (layer.h, None if layer.c is None else torch.tanh(layer.c)) if p is not None]
        s = torch.cat(parts, dim=-1)[valid].abs()
        return (torch.minimum(s, (1.0 - s).abs()) ** 2).mean()

