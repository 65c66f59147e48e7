"""The autograd nodes of the centroids' term, with their backward written out.

:class:`SoftPull`: the pull on given states (any cell). :class:`CellPull`: an LSTM's whole term
in one node, the cell scan and the pull fused (below). :class:`StepError`: the consistency's
LSTM step from the soft centroids and its error.

The regulariser of :mod:`~fsm_extract.nets.extractability` pulls every step's full state (every
layer's ``h`` and ``c``) towards learnable centroids. ``nn.LSTM`` returns only ``h``; ``c`` is
recomputed from the gates' pre-activations (:mod:`~fsm_extract.nets.step_states`). Done with
torch operations, the cell scan, the softmax over distances and the centroids' separation are
some forty small operations forward and as many backward: on the small nets this package
extracts from, their fixed cost was as large as the net's own fused step. :class:`CellPull`
does all of it but the gates' nonlinearities (torch's vectorised sigmoid), forward and
backward, in two Numba loops (CPU tensors, float32 or float64).

For a row (one step of one word) with state ``s`` (width ``W``), distances
``d_k = |s - m_k|^2 / W`` to the centroids ``m_k``, and ``p = softmax(-d / T)``, the pull is
``sum_k p_k d_k``, and ``dL/dd_k = p_k (1 - (d_k - L) / T)``. The term is the weighted sum of the
rows' pulls plus the mean over centroid pairs of ``relu(separation - |m_i - m_j|^2 / W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit

from .step_states import _cells_backward, _cells_forward, gate_activations

__all__ = ["CellPull", "SoftPull", "StepError"]


@njit(cache=True, fastmath=True)
def _gather(s, h, c, b, t):  # pragma: no cover
    # row (b, t)'s state into s: every layer's (h, c) in turn
    layers, width = h.shape[0], h.shape[3]
    for ell in range(layers):
        for j in range(width):
            s[2 * ell * width + j] = h[ell, b, t, j]
            s[(2 * ell + 1) * width + j] = c[ell, b, t, j]


@njit(cache=True, fastmath=True)
def _gap(cents, a, z):  # pragma: no cover
    # mean squared difference per coordinate of centroids a and z
    acc = cents[0, 0] * 0
    for m in range(cents.shape[1]):
        diff = cents[a, m] - cents[z, m]
        acc += diff * diff
    return acc / cents.shape[1]


@njit(cache=True, fastmath=True)
def _forward(gates, c0, h, w, cents, temperature, separation):  # pragma: no cover
    # gates (L, B, T, 3H): every layer's input, forget and cell gates after their nonlinearities;
    # c0 (L, B, H); h (L, B, T, H); w (B, T) the rows' weights; cents (K, 2LH), a row's state being
    # every layer's (h, c) in turn. Accumulates in the tensors' precision.
    layers, n, steps, three = gates.shape
    k_n, dim = cents.shape
    zero = np.zeros(1, gates.dtype)[0]
    c = np.empty((layers, n, steps, three // 3), gates.dtype)
    for ell in range(layers):
        c[ell] = _cells_forward(gates[ell], c0[ell])
    d = np.zeros((n, steps, k_n), gates.dtype)
    p = np.zeros((n, steps, k_n), gates.dtype)
    per = np.zeros((n, steps), gates.dtype)
    s = np.empty(dim, gates.dtype)
    total = 0.0
    for b in range(n):
        for t in range(steps):
            if w[b, t] == 0.0:
                continue
            _gather(s, h, c, b, t)
            low = zero + 3.0e38  # above any distance of finite states (no inf: fastmath assumes none)
            for k in range(k_n):
                acc = zero
                for m in range(dim):
                    diff = s[m] - cents[k, m]
                    acc += diff * diff
                d[b, t, k] = acc / dim
                low = min(low, d[b, t, k])
            norm = zero
            for k in range(k_n):
                e = np.exp((low - d[b, t, k]) / temperature)
                p[b, t, k] = e
                norm += e
            row = zero
            for k in range(k_n):
                p[b, t, k] /= norm
                row += p[b, t, k] * d[b, t, k]
            per[b, t] = row
            total += w[b, t] * row
    pairs = k_n * (k_n - 1) // 2
    push = 0.0
    for a in range(k_n):
        for z in range(a + 1, k_n):
            push += max(separation - _gap(cents, a, z), 0.0)
    if pairs > 0:
        total += push / pairs
    return total, c, d, p, per


@njit(cache=True, fastmath=True)
def _backward(grad, g_c, g_p, gates, c, c0, h, w, cents, d, p, per, temperature, separation):  # pragma: no cover
    # returns the gradients by the gates' pre-activations (L, B, T, 3H), c0 (L, B, H), h (L, B, T, H)
    # and cents (K, 2LH); g_c (L, B, T, H) and g_p (B, T, K): the gradients by the cells and by the
    # assignments from outside the node
    layers, n, steps, three = gates.shape
    width = three // 3
    k_n, dim = cents.shape
    zero = np.zeros(1, gates.dtype)[0]
    d_h = np.zeros((layers, n, steps, width), gates.dtype)
    d_c = g_c.copy()
    d_cents = np.zeros((k_n, dim), gates.dtype)
    s = np.empty(dim, gates.dtype)
    d_s = np.empty(dim, gates.dtype)
    g = np.empty(k_n, gates.dtype)
    scale = 2.0 * grad / dim
    for b in range(n):
        for t in range(steps):
            if w[b, t] == 0.0:
                continue
            _gather(s, h, c, b, t)
            mean_a = zero  # the softmax's backward: dp_j/dd_k = -p_j (delta_jk - p_k) / T
            for k in range(k_n):
                mean_a += p[b, t, k] * g_p[b, t, k]
            total = zero
            for k in range(k_n):  # dL/dd_k times the 2 / dim of dd_k/ds = 2 (s - m_k) / dim
                g[k] = (w[b, t] * scale * p[b, t, k] * (1.0 - (d[b, t, k] - per[b, t]) / temperature)
                        - (2.0 / dim) * p[b, t, k] * (g_p[b, t, k] - mean_a) / temperature)
                total += g[k]
            for m in range(dim):
                d_s[m] = total * s[m]
            for k in range(k_n):
                for m in range(dim):
                    d_s[m] -= g[k] * cents[k, m]
                    d_cents[k, m] += g[k] * (cents[k, m] - s[m])
            for ell in range(layers):
                for j in range(width):
                    d_h[ell, b, t, j] = d_s[2 * ell * width + j]
                    d_c[ell, b, t, j] += d_s[(2 * ell + 1) * width + j]
    pairs = k_n * (k_n - 1) // 2
    for a in range(k_n):
        for z in range(a + 1, k_n):
            if separation - _gap(cents, a, z) > 0.0:
                for m in range(dim):
                    step = grad * 2.0 * (cents[a, m] - cents[z, m]) / (dim * pairs)
                    d_cents[a, m] -= step
                    d_cents[z, m] += step
    d_pre = np.empty_like(gates)
    d_c0 = np.empty((layers, n, width), gates.dtype)
    for ell in range(layers):
        d_pre[ell], d_c0[ell] = _cells_backward(d_c[ell], gates[ell], c[ell], c0[ell])
    return d_pre, d_c0, d_h, d_cents


class CellPull(torch.autograd.Function):
    """The centroids' term of an LSTM stack, one node: ``apply(pre (L, B, T, 3H), c0 (L, B, H),
    h (L, B, T, H), weights (B, T), centroids (K, 2LH), temperature, separation)``, where ``pre``
    holds every layer's input, forget and cell gates' pre-activations (:func:`~fsm_extract.nets.
    step_states.lstm_gates`), ``c0`` the cells the rows started from, ``h`` the layers' outputs;
    a row's state is every layer's ``(h, c)`` in turn. Rows of weight 0 are skipped.

    Returns ``(term, cells, p)``: the term (a scalar), the cells ``c`` (L, B, T, H) and every
    row's soft assignment ``p`` (B, T, K; the softmax over the negative distances at the
    temperature; zeros on the rows of weight 0); their gradients from outside the node flow back
    with the term's (the cells' through the scan, the assignments' through the softmax and the
    distances to the states and the centroids)."""

    @staticmethod
    def forward(ctx: Any, pre: torch.Tensor, c0: torch.Tensor, h: torch.Tensor, weights: torch.Tensor,
                cents: torch.Tensor, temperature: float, separation: float) -> torch.Tensor:
        gates = gate_activations(pre)
        arrays = [t.detach().contiguous() for t in (gates, c0, h, weights.to(pre.dtype), cents.to(pre.dtype))]
        dtype = arrays[0].numpy().dtype.type
        total, c, d, p, per = _forward(*(a.numpy() for a in arrays), dtype(temperature), dtype(separation))
        cells, assignment = torch.from_numpy(c), torch.from_numpy(p)
        ctx.save_for_backward(*arrays, cells, torch.from_numpy(d), assignment, torch.from_numpy(per))
        ctx.constants = (float(temperature), float(separation))
        return pre.new_tensor(total), cells.clone(), assignment.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor, grad_cells: torch.Tensor | None = None,
                 grad_p: torch.Tensor | None = None) -> tuple:
        gates, c0, h, w, cents, c, d, p, per = ctx.saved_tensors
        temperature, separation = ctx.constants
        dtype = gates.numpy().dtype.type

        def outside(g: torch.Tensor | None, shape: tuple) -> np.ndarray:
            return np.zeros(shape, c.numpy().dtype) if g is None else g.to(c.dtype).contiguous().numpy()

        g_c = outside(grad_cells, tuple(c.shape))
        g_p = outside(grad_p, tuple(p.shape))
        d_pre, d_c0, d_h, d_cents = _backward(dtype(grad), g_c, g_p, gates.numpy(), c.numpy(), c0.numpy(), h.numpy(), w.numpy(),
                                              cents.numpy(), d.numpy(), p.numpy(), per.numpy(), dtype(temperature),
                                              dtype(separation))
        return (torch.from_numpy(d_pre), torch.from_numpy(d_c0), torch.from_numpy(d_h), None,
                torch.from_numpy(d_cents), None, None)


class StepError(torch.autograd.Function):
    """The consistency error of one LSTM layer, one node with its backward written out: every
    row's step run from ``(qh, qc)`` on input ``x``, and the weighted sum over the rows of the
    mean squared difference (per unit) of its ``h`` and ``c`` from the ``(h, c)`` the net reached.

    ``apply(x (N, E), qh, qc, h, c (N, H), weights (N,), w_ih (4H, E), w_hh (4H, H), bias (4H,) or
    None)``, ``nn.LSTM``'s gate order (input, forget, cell, output). The autograd graph of the same
    step (``torch.lstm_cell`` and the error) is some sixty operations forward and backward, and
    their fixed cost, not the arithmetic, was the regulariser's on small nets."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, qh: torch.Tensor, qc: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                weights: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        width = qh.shape[1]
        gates = x @ w_ih.T if bias is None else torch.addmm(bias, x, w_ih.T)
        gates.addmm_(qh, w_hh.T)
        gates[:, 2 * width:3 * width].mul_(2.0)
        act = torch.sigmoid_(gates)  # the cell gate's tanh as 2 sigmoid(2x) - 1
        act[:, 2 * width:3 * width].mul_(2.0).sub_(1.0)
        i, f, g, o = act.split(width, dim=1)
        c2 = torch.addcmul(i * g, f, qc)
        tc = torch.sigmoid(c2 * 2.0).mul_(2.0).sub_(1.0)  # tanh (torch's CPU tanh is several times slower)
        eh = torch.addcmul(-h, o, tc)
        ec = c2.sub_(c)
        total = torch.dot(eh.square().sum(1).add_(ec.square().sum(1)), weights) / width
        ctx.save_for_backward(x, qh, qc, weights, w_ih, w_hh, act, tc, eh, ec)
        ctx.has_bias = bias is not None
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        x, qh, qc, weights, w_ih, w_hh, act, tc, eh, ec = ctx.saved_tensors
        width = qh.shape[1]
        i, f, g, o = act.split(width, dim=1)
        scale = (weights * (grad * 2.0 / width))[:, None]
        d_h2, d_ec = eh * scale, ec * scale
        d_act = torch.empty_like(act)
        d_act[:, 3 * width:] = d_h2 * tc
        d_c2 = torch.addcmul(d_ec, d_h2 * o, 1.0 - tc * tc)
        d_act[:, :width] = d_c2 * g
        d_act[:, width:2 * width] = d_c2 * qc
        d_act[:, 2 * width:3 * width] = d_c2 * i
        deriv = act * (1.0 - act)
        deriv[:, 2 * width:3 * width] = 1.0 - g * g
        d_pre = d_act.mul_(deriv)
        return (d_pre @ w_ih, d_pre @ w_hh, d_c2 * f, -d_h2, -d_ec, None, d_pre.T @ x, d_pre.T @ qh,
                d_pre.sum(0) if ctx.has_bias else None)


class SoftPull(torch.autograd.Function):
    """``"centroids"``'s pull: the weighted sum over states (rows) of the expected squared
    distance (mean per coordinate) to a centroid drawn by a softmax over the negative distances
    at a temperature, with its backward written out (one node instead of some fifty: on small
    nets the term cost more than the net's own step).

    ``apply(states (N, W), weights (N,), centroids (K, W), temperature)``; for one row with
    distances ``d`` and probabilities ``p``, ``L = sum(p * d)`` and ``dL/dd = p * (1 - (d - L) / T)``."""

    @staticmethod
    def forward(ctx: Any, states: torch.Tensor, weights: torch.Tensor, cents: torch.Tensor,
                temperature: float) -> torch.Tensor:
        width = states.shape[1]
        d = torch.addmm(cents.square().sum(1), states, cents.T, alpha=-2.0)
        d.add_(states.square().sum(1, keepdim=True)).clamp_(min=0.0).div_(width)
        p = torch.softmax(d / -temperature, dim=1)
        per_row = (p * d).sum(1)
        ctx.save_for_backward(states, weights, cents, p, d, per_row)
        ctx.temperature = temperature
        return (per_row * weights).sum()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        states, weights, cents, p, d, per_row = ctx.saved_tensors
        g = p * (1.0 - (d - per_row[:, None]) / ctx.temperature)  # dL/dd, row by row
        g.mul_((weights * (grad * 2.0 / states.shape[1]))[:, None])  # dd/ds = 2 (s - c) / W
        d_states = g.sum(1, keepdim=True) * states - g @ cents
        d_cents = g.sum(0)[:, None] * cents - g.T @ states
        return d_states, None, d_cents, None
