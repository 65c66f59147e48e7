"""Training for extractability: a regulariser that makes a net's states fall into few regions.

``fx.train_classifier(..., extractability=0.1)`` adds ``strength * term`` to the task loss,
where ``term`` acts on the net's recurrent states only (never on its outputs, so it does not
assume two classes). The model stays an ordinary ``nn.LSTM``/``nn.GRU``/``nn.RNN``
:class:`~fsm_extract.nets.models.RNNClassifier`: whatever the regulariser needs (centroids,
noise) lives in the training loop and is not saved with the net.

The state of a step is the net's full recurrent state after it, every layer's ``h`` (and an
LSTM's ``c``), the state extraction traces. ``nn.LSTM`` returns only the top layer's ``h`` at
every step; the rest is recomputed from it in parallel over the steps
(:mod:`~fsm_extract.nets.step_states`: the gates of every step need only the previous ``h``; the
cell vector is then one Numba scan), and on the CPU an LSTM's whole centroids' term is one
autograd node with its backward written out (:mod:`~fsm_extract.nets.lstm_term`), so a
regularised step costs about 2x a plain one on one CPU core for 8-32 units
(``benchmarks/bench_regularizer_step.py``), and a whole training run 1.1-2.1x (median 1.8x with
``horizon=3``; ``benchmarks/README.md``).

Methods (``Extractability(method=...)``):

- ``"centroids"`` (default): pull every state to a learnable set of centroids (Wang &
  Niepert, ICML 2019, as a loss instead of an architecture change): the expected squared
  distance to a soft-assigned centroid (softmax over negative distances, its temperature
  annealed from ``temperature[0]`` to ``temperature[1]`` over the epochs), plus a hinge keeping
  the centroids at least ``separation`` apart. The best of the three where measured: on
  random 8- and 10-state DFAs with under-trained 8- and 16-unit LSTMs it made the nets both
  more accurate and better explained (automata of the DFA's own size, 1-1.7 points more
  prefix agreement), and cost 0.1 point of accuracy on Tomita 7 (see the README). Optionally
  (``consistency``, off by default) the centroids must also behave like the states they stand
  for: every step is run again from the previous state's soft-assigned centroid and must land
  where the net did. The pull alone brings states near centroids but does not make the steps
  from one centroid's states land near one centroid, which is what an automaton assumes.
- ``"noise"``: noise injection on the recurrent state as a loss: every state the net left is
  perturbed with Gaussian noise (standard deviation ``noise``), the step is run again from it,
  and the squared distance to the unperturbed next state (per unit variance of the noise) is
  penalised. Perturbations must die out: the net's steps contract onto stable regions. It
  cost accuracy wherever measured (0.3-4 points at strength 0.03).
- ``"ternary"``: the squared distance of every ``h`` unit (and an LSTM's ``tanh(c)``) to the
  nearest of -1, 0 and 1 (quantised bottleneck networks, Koul et al., ICLR 2019, as a penalty).
  Best of all on the 2-symbol task, less accurate than the centroids on the 3-symbol one.

``horizon`` (off by default) applies the term also to the states of unlabelled words longer than
any training word, where extraction is tested and the net drifts: every ``horizon_every``-th
batch carries ``horizon_words`` windows cut from long concatenations of training words, each run
from the state its unregularised beginning left. It is what stops the counters of
``benchmarks/bench_regularizer.py`` drifting (mod4 trained to length 10, tested to 50: 82% ->
99.75% accuracy with 4x the words); on the other tasks it changed little (benchmarks/README.md).

``every`` (1 by default) computes the term on every ``every``-th batch only. The configuration
measured to meet the issue's targets on the regulariser benchmark with 4x its words, on every
training seed, is ``Extractability(strength=0.1, horizon=3, consistency=1, every=2)``: 99.9%
agreement on 10-12 of 12 tasks at a median 1.59x plain training time, at most 1.68x.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_float, check_int, check_seed
from ..errors import ArgumentTypeError, ValidationError
from .cell_pull import SoftPull, StepError
from .lstm_term import LstmTerm
from .step_states import Layer, captured, cell_step, layer_states, layer_weights, numba_scan, run_layer, split_state

__all__ = ["Extractability", "ExtractabilityMethod", "METHODS", "Regularizer", "SoftPull", "as_extractability"]

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
    strength : float, default 0.1
        Weight of the term in the loss (the task loss is a mean per target); 0 turns it off.
        In [0, 100]. Measured: 0.1-0.3 for ``"centroids"`` and ``"ternary"`` (1.0 cost
        accuracy), 0.03 for ``"noise"`` (0.1 cost more). The default is the safer of the two
        for ``"centroids"``, and the one a number means to the README and the CLI examples: on
        the regulariser benchmark's 12 tasks 0.1 kept accuracy within 0.5 points of plain
        training on 11, 0.3 on 8.
    method : {"centroids", "noise", "ternary"}, default "centroids"
        See the module docstring.
    n_centroids : int, default 16
        Centroids of ``"centroids"`` (2..1024): more than the automaton should need.
    temperature : (float, float), default (0.1, 0.001)
        Softmax temperature of ``"centroids"`` at the first and the last epoch (annealed
        geometrically between them; distances are mean squares per coordinate).
    separation : float, default 0.1
        Mean squared distance per coordinate that ``"centroids"`` keeps between centroids.
    consistency : float, default 0.0
        Weight (in [0, 100], relative to the pull) of an optional second part of
        ``"centroids"``: the centroids must behave like the states they stand for. For every
        step after a word's first, the step is run again from the previous state's
        soft-assigned centroid (the centroids' mean under the pull's softmax assignment, which
        the annealing makes the nearest centroid), and the squared distance (mean per
        coordinate) from the state the net reached is penalised. Measured on the regulariser
        benchmark with 4x its words and ``horizon=3`` (benchmarks/README.md, "Centroids that
        behave like their states"): ``consistency=1`` reached 99.9% agreement on 34 of 36 (task,
        seed) pairs against 31 for the pull alone, at a median 2.3x plain training time on
        every batch, 1.59x with ``every=2`` (33 of 36 pairs; see ``every``); at the benchmark's
        own (under-trained) words it changed little (17 of 36 pairs against 18) and left the
        GRU 8 points below the pull alone on one seed. Off by default.
    noise : float, default 0.1
        Standard deviation of ``"noise"``'s perturbation.
    horizon : float, default 0.0
        0: the term acts on the labelled batch's states only. Otherwise (in [1, 100]) every
        ``horizon_every``-th batch also carries ``horizon_words`` unlabelled windows as long as
        the batch, cut from words up to ``horizon`` times the longest training word (seeded
        random concatenations of training words; no labels are used): each long word's
        beginning runs without gradients, its window runs beside the labelled words from the
        state the beginning left, and the term is the mean over the labelled steps and the
        windows' steps. The windows end between the longest training word and ``horizon``
        times it, where extraction is tested and the net was never trained. Measured with
        ``train_classifier``'s defaults on the regulariser benchmark's 12 tasks, three seeds:
        strength 0.1 with ``horizon=3`` reached 99.9% agreement on 19 of 36 (task, seed) pairs,
        without it 17, mean accuracy 98.80% against 98.16% (the counters gain most); off by
        default because with fixed epochs at strength 0.3 it cost the tanh RNN 7.7 points.
    horizon_words : int, default 16
        Windows per batch that carries them (1..1024) when ``horizon`` is on.
    horizon_every : int, default 4
        Windows go with every ``horizon_every``-th labelled batch (1..1024), from the first,
        where that batch carries the term (with ``every`` > 1, make it a multiple of ``every``).
        Measured (one seed, 4x the benchmark's words, wall time of two runs side by side): 4 met
        the target on 9 of 12 tasks at 1.75x plain training time, 1 on 8 at 2.2x.
    anneal_epochs : int, default 10
        With early stopping (a run of unknown length) the temperature anneals over this many
        epochs (1..1000000) and then stays at ``temperature[1]``, and a perfect held-out score
        stops training only once they have run: stopping at the first 100% epoch left the
        temperature barely annealed (measured: worse nets than plain training). Without early
        stopping it anneals over all ``epochs``.
    every : int, default 1
        The term is computed on every ``every``-th labelled batch (1..1024), from the first, with
        the same weight; the other batches train on the task alone, at a plain batch's cost (and
        carry no windows). Measured with 4x the regulariser benchmark's words, ``horizon=3`` and
        ``consistency=1`` (benchmarks/README.md, "Both targets at once"): ``every=2`` met 99.9%
        agreement on 33 of 36 (task, seed) pairs (every batch: 34) at a median 1.59x plain
        training time, at most 1.68x (every batch: 2.30x, at most 2.84x).
    """

    strength: float = 0.1
    method: ExtractabilityMethod = "centroids"
    n_centroids: int = 16
    temperature: tuple[float, float] = (0.1, 0.001)
    separation: float = 0.1
    consistency: float = 0.0
    noise: float = 0.1
    horizon: float = 0.0
    horizon_words: int = 16
    horizon_every: int = 4
    anneal_epochs: int = 10
    every: int = 1

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
        object.__setattr__(self, "consistency", check_float("consistency", self.consistency, min=0.0, max=MAX_STRENGTH))
        object.__setattr__(self, "noise", check_float("noise", self.noise, min=0.0, min_inclusive=False, max=10.0))
        horizon = check_float("horizon", self.horizon, min=0.0, max=100.0)
        if 0.0 < horizon < 1.0:
            raise ValidationError(f"horizon={horizon} must be 0 (off) or >= 1 (times the longest training word)")
        object.__setattr__(self, "horizon", horizon)
        check_int("horizon_words", self.horizon_words, min=1, max=1024)
        check_int("horizon_every", self.horizon_every, min=1, max=1024)
        check_int("anneal_epochs", self.anneal_epochs, min=1, max=1_000_000)
        check_int("every", self.every, min=1, max=1024)

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
        self.consistency = options.consistency  # the consistency's weight (0: the pull alone)
        self.batches = 0  # labelled batches seen (the long words run with every horizon_every-th)
        self.pool: tuple | None = None  # (symbols, starts, lengths) of the nonempty training words
        if options.horizon > 0 and words is not None:
            symbols, offsets = (np.asarray(a) for a in words)
            lengths = np.diff(offsets)
            keep = np.flatnonzero(lengths > 0)
            if keep.size:
                self.pool = (symbols.astype(np.int64), offsets[keep], lengths[keep])
                self.max_len = int(lengths.max())
                self.long_len = max(1, int(round(options.horizon * self.max_len)))
                self.tape = self._tape()

    def _tape(self) -> tuple[np.ndarray, np.ndarray]:
        """(symbols, word starts): the nonempty training words in seeded random orders, one
        order after another until the tape holds 4 x ``long_len`` symbols (at least once each)."""
        symbols, starts, lengths = self.pool
        order: list[np.ndarray] = []
        total = 0
        while not order or total < 4 * self.long_len:
            order.append(self.rng.permutation(len(lengths)))
            total += int(lengths.sum())
        picks = np.concatenate(order)
        bounds = np.concatenate([[0], np.cumsum(lengths[picks])])
        index = np.repeat(starts[picks] - bounds[:-1], lengths[picks]) + np.arange(bounds[-1])
        return symbols[index], bounds[:-1]

    def parameters(self) -> list[nn.Parameter]:
        """What the optimiser trains besides the net (the centroids)."""
        return [self.centroids] if self.centroids is not None else []

    def start_epoch(self, epoch: int) -> None:
        """Anneal the temperature for ``epoch`` (0-based)."""
        first, last = self.options.temperature
        share = epoch / (self.epochs - 1) if self.epochs > 1 else 1.0
        self.temperature = first * (last / first) ** min(share, 1.0)

    def logits(self, model: Any, ids: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``model(ids)`` and the regulariser's term on the steps ``valid`` (B, T) bool (and,
        with ``horizon``, on every step of a window of unlabelled long words run with the batch);
        the term is None on the batches ``every`` skips."""
        self.batches += 1
        if (self.batches - 1) % self.options.every:
            return model(ids), None
        window = None
        if self.pool is not None and (self.batches - 1) % self.options.horizon_every == 0:
            window = self.window(model, ids.shape[1])
        if window is None:
            with captured(model.rnn) as seen:
                logits = model(ids)
            return logits, self._term(model.rnn, seen[-1], valid)
        w_ids, w_state = window
        state = _stacked(model.rnn, ids.shape[0], w_state)
        with captured(model.rnn) as seen:
            logits = model(torch.cat([ids, w_ids.to(ids.device)]), state)
        every = torch.cat([valid, torch.ones(w_ids.shape, dtype=torch.bool, device=valid.device)])
        return logits[: ids.shape[0]], self._term(model.rnn, seen[-1], every, state)

    def window(self, model: Any, steps: int) -> tuple[torch.Tensor, Any]:
        """The long words' window for a batch of ``steps`` steps: ``horizon_words`` long words
        (:meth:`long_words`) of ``start + steps`` symbols, their first ``start`` symbols run
        without gradients, and (their last ``steps`` symbols (R, steps), the state the first
        left). ``start`` is drawn (seeded) so that the windows cover the steps from the longest
        training word to ``horizon`` times it."""
        lo = max(0, min(self.max_len, self.long_len - steps))
        start = int(self.rng.integers(lo, max(lo, self.long_len - steps) + 1))
        weight = next(model.rnn.parameters())
        words = self.long_words(start + steps).to(weight.device)
        if start == 0:
            return words, None
        with torch.no_grad():
            _, state = model.rnn(model.embedding(words[:, :start]))
        return words[:, start:], state

    def long_words(self, length: int | None = None) -> torch.Tensor:
        """``horizon_words`` unlabelled words of ``length`` symbols (default ``long_len``, the
        ``horizon`` x the longest training word), (R, length): seeded random concatenations of
        nonempty training words, cut to length (pieces of the tape, each from a word's start)."""
        length = self.long_len if length is None else length
        tape, starts = self.tape
        if tape.size < length:
            raise ValueError(f"length={length} must be <= {tape.size} (the tape's length)")
        usable = starts[: int(np.searchsorted(starts, tape.size - length, side="right"))]
        first = usable[self.rng.integers(usable.size, size=self.options.horizon_words)]
        return torch.from_numpy(tape[first[:, None] + np.arange(length)])

    def _term(self, rnn: nn.RNNBase, seen: tuple, valid: torch.Tensor, initial: Any = None) -> torch.Tensor:
        """The term on the states of a captured call ``seen`` (its input and output) that
        started from ``initial``, over the steps ``valid``."""
        method = self.options.method
        x, top = seen
        if method == "centroids" and isinstance(rnn, nn.LSTM) and numba_scan(top):
            return self._lstm_term(rnn, x, top, valid, initial)
        layers = layer_states(rnn, x, top, initial)
        if method == "centroids":
            return self._centroids(rnn, layers, valid)
        if method == "noise":
            return self._noise(rnn, layers, valid)
        return self._ternary(layers, valid)

    def _centroids(self, rnn: nn.RNNBase, layers: list[Layer], valid: torch.Tensor) -> torch.Tensor:
        parts = [p for layer in layers for p in (layer.h, layer.c) if p is not None]
        states = torch.cat(parts, dim=-1)
        flat = states.reshape(-1, states.shape[-1])
        weights = valid.reshape(-1).to(states.dtype)
        cents = self.centroids.to(states.dtype)
        pull = SoftPull.apply(flat, weights / weights.sum().clamp_min(1.0), cents, self.temperature)
        push = torch.relu(self.options.separation - torch.pdist(cents).square() / states.shape[-1]).mean()
        if not self.consistency or states.shape[1] < 2:
            return pull + push
        return pull + push + self._consistency(rnn, layers, self._soft_centroids(layers), valid)

    def _lstm_term(self, rnn: nn.LSTM, x: torch.Tensor, top: torch.Tensor, valid: torch.Tensor,
                   initial: Any) -> torch.Tensor:
        """:meth:`_centroids` of an LSTM on the CPU, cells, pull, separation and consistency in
        one node (:class:`LstmTerm`); the lower layers of a stack are run again (one fused call each)."""
        outputs, inp = [], x
        for layer, (h0, c0) in enumerate(split_state(rnn, initial)):
            inp = top if layer == rnn.num_layers - 1 else run_layer(rnn, layer, inp, h0, c0)
            outputs.append(inp)
        weights = [w for layer in range(rnn.num_layers) for w in layer_weights(rnn, layer) if w is not None]
        h0, c0 = (None, None) if initial is None else initial
        return LstmTerm.apply(x, h0, c0, valid, self.centroids, self.temperature, self.options.separation,
                              self.consistency, rnn.num_layers, *outputs, *weights)

    @staticmethod
    def _pair_weights(valid: torch.Tensor) -> torch.Tensor:
        """The consistency's weights of the steps ``t >= 1`` (B * (T - 1),): those ``valid``
        whose previous step is, equal and summing to 1."""
        weights = (valid[:, 1:] & valid[:, :-1]).reshape(-1)
        return weights / weights.sum().clamp_min(1.0)

    def _soft_centroids(self, layers: list[Layer]) -> torch.Tensor:
        """The soft-assigned centroid (rows, W) of every step but the last: the centroids' mean
        under the pull's softmax over the negative distances."""
        parts = [p for layer in layers for p in (layer.h[:, :-1], None if layer.c is None else layer.c[:, :-1]) if p is not None]
        prev = torch.cat(parts, dim=-1)
        prev = prev.reshape(-1, prev.shape[-1])
        cents = self.centroids.to(prev.dtype)
        d = torch.addmm(cents.square().sum(1), prev, cents.T, alpha=-2.0) + prev.square().sum(1, keepdim=True)
        return torch.softmax(d.clamp(min=0.0) / (-prev.shape[-1] * self.temperature), dim=1) @ cents

    def _consistency(self, rnn: nn.RNNBase, layers: list[Layer], q: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``consistency`` times the centroids' consistency: every step ``t >= 1`` that is
        ``valid``, and whose previous step is, run again from step ``t - 1``'s soft-assigned
        centroid (``q`` (B * (T - 1), W)), and the squared distance (mean per coordinate, every
        layer's ``h`` and an LSTM's ``c``) to the state the net reached at ``t``; a weighted mean
        over the rows, then over the layers. The gradient reaches the net, the centroids and the
        previous state's assignment. An LSTM's step and error are one node (:class:`StepError`);
        on the CPU an LSTM's whole term is :class:`LstmTerm`."""
        weights = self._pair_weights(valid).to(q.dtype)
        total = q.new_zeros(())
        at = 0
        for index, layer in enumerate(layers):
            c = layer.c
            width = layer.h.shape[-1]
            x = layer.x[:, 1:].reshape(-1, layer.x.shape[-1])
            qh = q[:, at:at + width]
            at += width
            h = layer.h[:, 1:].reshape(-1, width)
            if c is None:
                total = total + ((cell_step(rnn, index, x, qh) - h).square().mean(1) * weights).sum()
            else:
                qc = q[:, at:at + width]
                at += width
                w_ih, w_hh, b_ih, b_hh = layer_weights(rnn, index)
                total = total + StepError.apply(x, qh, qc, h, c[:, 1:].reshape(-1, width), weights, w_ih, w_hh,
                                                None if b_ih is None else b_ih + b_hh)
        return self.consistency * total / len(layers)

    def _noise(self, rnn: nn.RNNBase, layers: list[Layer], valid: torch.Tensor) -> torch.Tensor:
        sigma = self.options.noise
        total = 0.0
        for index, layer in enumerate(layers):
            x, h, h_prev = layer.x[valid], layer.h[valid], layer.h_prev()[valid]
            if layer.c is not None:
                c, c_prev = layer.c[valid], layer.c_prev()[valid]
                h2, c2 = cell_step(rnn, index, x, (self._perturbed(h_prev), self._perturbed(c_prev)))
                total = total + ((h2 - h) ** 2).mean() + ((c2 - c) ** 2).mean()
            else:
                h2 = cell_step(rnn, index, x, self._perturbed(h_prev))
                total = total + ((h2 - h) ** 2).mean()
        return total / (sigma * sigma * len(layers))

    def _perturbed(self, t: torch.Tensor) -> torch.Tensor:
        return t + self.options.noise * torch.randn(t.shape, generator=self.gen).to(t)

    def _ternary(self, layers: list[Layer], valid: torch.Tensor) -> torch.Tensor:
        parts = [p for layer in layers for p in (layer.h, None if layer.c is None else torch.tanh(layer.c)) if p is not None]
        s = torch.cat(parts, dim=-1)[valid].abs()
        return (torch.minimum(s, (1.0 - s).abs()) ** 2).mean()



def _stacked(rnn: nn.RNNBase, n_zero: int, state: Any) -> Any:
    """The initial state of a batch whose first ``n_zero`` rows start from zeros and whose
    other rows start from ``state`` (an ``nn.LSTM``/``nn.GRU`` state; None: zeros too)."""
    if state is None:
        return None
    if isinstance(rnn, nn.LSTM):
        return tuple(torch.cat([s.new_zeros(s.shape[0], n_zero, s.shape[2]), s], dim=1) for s in state)
    return torch.cat([state.new_zeros(state.shape[0], n_zero, state.shape[2]), state], dim=1)
