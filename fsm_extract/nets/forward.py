"""Running a recurrent net over encoded words in bounded memory.

Words are sorted by length and run in batches (padded to the batch's longest word); a batch
whose padded size would exceed :data:`MAX_BATCH_STEPS` is cut shorter, and each batch is run
through time in pieces of at most :data:`CHUNK_VALUES` state values, the recurrent state
carried from one piece to the next. Memory is therefore bounded by these chunk sizes, not by
the length of the longest word: a word of length 10^6 costs the same peak memory as one of
length 10^3 (plus its own output arrays).

:func:`iter_steps` yields each piece's rows; :meth:`fsm_extract.nets.net.Net.trace`
stores them in a :class:`~fsm_extract.nets.trace.Trace`, :func:`net_outputs` keeps only the
class probabilities for checks that never need the states.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..automata.state_map import StateLayout
from .determinism import eval_mode
from .parts import RecurrentParts, padded

__all__ = ["CHUNK_VALUES", "MAX_BATCH_STEPS", "iter_steps", "net_outputs", "padded_steps", "eval_mode", "layout",
           "unlayout", "state_dim", "batches", "step_states", "h0_probs"]

#: State values (batch rows x time steps x width) one torch call of a trace handles at most.
CHUNK_VALUES = 2**24
#: Padded steps (words x longest word) one batch holds at most; a batch of long words is cut
#: to fewer words (at least one).
MAX_BATCH_STEPS = 2**20


def layout(state: Any, cell: str, kind: str) -> torch.Tensor:
    """(L, B, H) state(s) -> (B, dim) in the trace layout."""
    if cell == "lstm":
        h, c = state
        parts = [h] if kind == "h" else [h, c]
    else:
        parts = [state]
    return torch.cat([p.permute(1, 0, 2).reshape(p.shape[1], -1) for p in parts], dim=1)


def state_dim(model: RecurrentParts, kind: str) -> int:
    """Width of a state of ``kind`` (``"h"`` or ``"hc"``) in the trace layout."""
    mult = 2 if (model.cell == "lstm" and kind == "hc") else 1
    return mult * model.num_layers * model.hidden_size


def batches(offsets: np.ndarray, batch_size: int, max_steps: int | None = None) -> list[np.ndarray]:
    """The word indices of each batch: non-empty words sorted by length (stable),
    ``batch_size`` at a time, fewer where ``words x longest`` would exceed ``max_steps``
    (default :data:`MAX_BATCH_STEPS`); each batch is padded to its longest word."""
    max_steps = MAX_BATCH_STEPS if max_steps is None else max_steps
    lengths = np.diff(np.asarray(offsets, dtype=np.int64))
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    out, i = [], 0
    while i < order.size:
        m = min(batch_size, order.size - i)
        if m > 1 and m * int(lengths[order[i + m - 1]]) > max_steps:
            lo, hi = 1, m  # largest m' with m' * (longest of the first m') <= max_steps
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if mid * int(lengths[order[i + mid - 1]]) <= max_steps:
                    lo = mid
                else:
                    hi = mid - 1
            m = lo
        out.append(order[i : i + m])
        i += m
    return out


def padded_steps(offsets: np.ndarray, batch_size: int = 512) -> int:
    """Net steps :func:`iter_steps` runs on words with these CSR ``offsets``, padding included
    (every word of a batch is run to the batch's longest)."""
    lengths = np.diff(np.asarray(offsets, dtype=np.int64))
    return int(sum(idx.size * int(lengths[idx].max()) for idx in batches(offsets, batch_size)))


def _run_rnn(model: RecurrentParts, x: torch.Tensor, st: Any, *, per_step: bool, state: str) -> tuple:
    """Run the recurrent layer over inputs ``x`` (B, t, E) from state ``st`` (None: zeros).

    Returns (top-layer outputs (B, t, H), states in trace layout (B, t, dim) or None, final state)."""
    if not per_step:
        top, st = model.rnn(x) if st is None else model.rnn(x, st)
        return top, top, st
    if st is None:
        st = model.zero_state(x.shape[0])
    tops, per = [], []
    for t in range(x.shape[1]):
        out, st = model.rnn(x[:, t : t + 1], st)
        tops.append(out[:, 0])
        per.append(layout(st, model.cell, state))
    return torch.stack(tops, dim=1), torch.stack(per, dim=1), st


def iter_steps(model: RecurrentParts, symbols: np.ndarray, offsets: np.ndarray, *, batch_size: int,
               state: str, with_states: bool = True, progress: bool = False) -> Iterator[tuple]:
    """Run the net over CSR-encoded words; yield ``(rows, states, outputs)`` per piece.

    ``rows`` (m,) are the global step indices of the piece (a ``slice`` when they are one run), ``states`` (m, dim) float32 their
    states in the layout of ``state`` (None unless ``with_states``), ``outputs`` (m, n_classes)
    float32 the class probabilities. The caller runs it inside :func:`eval_mode` and
    ``torch.no_grad()``.
    """
    dev = model._device()
    per_step = not (state == "h" and model.num_layers == 1)  # nn.LSTM returns only the last c
    width = 2 * state_dim(model, "hc")
    todo: Any = batches(offsets, batch_size)
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="trace", unit="batch", leave=False)
    for idx in todo:
        ids_np, lens = padded(symbols, offsets, idx)
        n_rows, n_time = ids_np.shape
        t_chunk = max(1, CHUNK_VALUES // (n_rows * width))
        st = None
        for t0 in range(0, n_time, t_chunk):
            t1 = min(n_time, t0 + t_chunk)
            x = model._inputs(torch.from_numpy(ids_np[:, t0:t1]).to(dev))
            top, states, st = _run_rnn(model, x, st, per_step=per_step, state=state)
            probs = model.class_probs(top)
            if t0 == 0 and t1 == n_time and lens.min() == n_time and _consecutive(idx):
                # every word of the batch fills it, and they follow each other: the batch's
                # steps are one run of rows, in order (no mask, no scatter)
                lo = int(offsets[idx[0]])
                yield (slice(lo, lo + n_rows * n_time),
                       states.reshape(n_rows * n_time, -1).float().cpu().numpy() if with_states else None,
                       probs.reshape(n_rows * n_time, -1).float().cpu().numpy())
                continue
            mask = np.arange(t0, t1)[None, :] < lens[:, None]
            if not mask.any():
                continue
            rows = (offsets[idx][:, None] + np.arange(t0, t1)[None, :])[mask]
            mask_t = torch.from_numpy(mask).to(dev)
            yield (rows, states[mask_t].float().cpu().numpy() if with_states else None,
                   probs[mask_t].float().cpu().numpy())


def _consecutive(idx: np.ndarray) -> bool:
    """Whether word indices ``idx`` are ``i, i + 1, ..., i + m - 1``."""
    return int(idx[-1]) - int(idx[0]) == idx.size - 1 and bool((np.diff(idx) == 1).all())


def h0_probs(model: RecurrentParts) -> np.ndarray:
    """The class probabilities of the empty prefix (the head on the zero state), (n_classes,)."""
    zero = torch.zeros(1, model.hidden_size, device=model._device(), dtype=model._dtype())
    return model.class_probs(zero)[0].float().cpu().numpy()


@torch.no_grad()
def net_outputs(model: RecurrentParts, symbols: np.ndarray, offsets: np.ndarray, *,
                batch_size: int = 512, state: StateLayout = "h") -> tuple[np.ndarray, np.ndarray]:
    """The net's class probabilities after every step (ndarray of shape (n_steps, n_classes),
    float32) and of the empty prefix, without keeping any state: memory is the outputs plus
    one chunk. ``state`` picks the same computation as a trace of that layout."""
    symbols = np.ascontiguousarray(symbols, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    with eval_mode(model):
        first = h0_probs(model)
        outputs = np.empty((symbols.size, first.size), dtype=np.float32)
        for rows, _, probs in iter_steps(model, symbols, offsets, batch_size=batch_size, state=state,
                                         with_states=False):
            outputs[rows] = probs
    return outputs, first


def unlayout(vectors: torch.Tensor, model: RecurrentParts) -> Any:
    """(B, dim) full state in trace layout -> nn.LSTM / nn.GRU state (L, B, H)."""
    L, H, B = model.num_layers, model.hidden_size, vectors.shape[0]

    def block(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(B, L, H).permute(1, 0, 2).contiguous()

    if model.cell == "lstm":
        return block(vectors[:, : L * H]), block(vectors[:, L * H :])
    return block(vectors)


@torch.no_grad()
def step_states(model: RecurrentParts, states: np.ndarray, symbol_ids: np.ndarray, *, state: str,
                batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """One recurrent step from full states (trace layout of ``state``), batched: the next
    states (n, dim) float32 and the class probabilities after the step (n, n_classes) float32.
    Computed in the model's own dtype. Arguments are checked by the caller."""
    dev = model._device()
    nxt = np.empty_like(states)
    outs = None
    with eval_mode(model):
        for b0 in range(0, states.shape[0], batch_size):
            sl = slice(b0, b0 + batch_size)
            st = unlayout(torch.from_numpy(states[sl]).to(dev, dtype=model._dtype()), model)
            ids = torch.from_numpy(symbol_ids[sl].astype(np.int64)).to(dev)[:, None]
            out, st = model.rnn(model._inputs(ids), st)
            nxt[sl] = layout(st, model.cell, state).float().cpu().numpy()
            probs = model.class_probs(out[:, 0]).float().cpu().numpy()
            if outs is None:
                outs = np.empty((states.shape[0], probs.shape[1]), dtype=np.float32)
            outs[sl] = probs
    if outs is None:
        outs = np.empty((0, 2), dtype=np.float32)
    return nxt, outs
