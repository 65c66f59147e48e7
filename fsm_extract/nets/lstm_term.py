"""An LSTM stack's whole centroids' term in one autograd node.

The regulariser of :mod:`~fsm_extract.nets.extractability` pulls every step's full state (every
layer's ``h`` and ``c``) towards learnable centroids and, with ``consistency``, runs every step
again from the previous state's soft-assigned centroid. ``nn.LSTM`` returns only the top layer's
``h``: the cells are recomputed from the gates' pre-activations, which need only the previous
``h`` (one matrix product over all steps, then an elementwise scan). On the small nets this
package extracts from, the fixed cost of the torch operations doing this (a few dozen forward,
as many autograd nodes backward) was larger than the arithmetic and than the net's own fused
step; here the gates' products, the cell scan, the pull, the separation and the consistency's
step are one node whose forward and backward are a few Numba loops (CPU tensors, float32 or
float64) between torch's vectorised sigmoid and matrix products on the same arrays (Numba's
scalar exponentials and ``np.tanh`` cost several times more; its transposed products too).

For a row (one step of one word) with state ``s`` (width ``W = 2 L H``), distances
``d_k = |s - m_k|^2 / W`` to the centroids ``m_k`` and ``p = softmax(-d / T)``, the pull is
``sum_k p_k d_k``; the term is the mean of the valid rows' pulls, plus the mean over centroid
pairs of ``relu(separation - |m_i - m_j|^2 / W)``, plus ``consistency`` times the mean over the
layers and over the steps ``t >= 1`` (valid, with a valid predecessor) of
``(|h' - h_t|^2 + |c' - c_t|^2) / H``, where ``(h', c')`` is the layer's step on its input at
``t`` from the soft centroid ``q = p_{t-1} @ m`` (the layer's ``h`` and ``c`` parts of it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit

__all__ = ["LstmTerm"]


def _rows(x0: np.ndarray, hs: np.ndarray, ell: int) -> np.ndarray:
    """Layer ``ell``'s input as rows (B * T, E or H): the stack's input, or the layer below's outputs."""
    return x0.reshape(-1, x0.shape[2]) if ell == 0 else hs[ell - 1].reshape(-1, hs.shape[3])


@njit(cache=True)
def _shifted(h, first):  # pragma: no cover
    # the state before every step as rows (B * T, H): first (B, H), then h (B, T, H) one step late
    n, steps, width = h.shape
    out = np.empty((n * steps, width), h.dtype)
    for b in range(n):
        for j in range(width):
            out[b * steps, j] = first[b, j]
        for t in range(1, steps):
            for j in range(width):
                out[b * steps + t, j] = h[b, t - 1, j]
    return out


@njit(cache=True)
def _gather(s, hs, c, b, t):  # pragma: no cover
    # row (b, t)'s full state into s: every layer's (h, c) in turn
    layers, steps, width = hs.shape[0], hs.shape[2], hs.shape[3]
    for ell in range(layers):
        for j in range(width):
            s[2 * ell * width + j] = hs[ell, b, t, j]
            s[(2 * ell + 1) * width + j] = c[ell, b * steps + t, j]


@njit(cache=True, fastmath=True)
def _gap(cents, a, z):  # pragma: no cover
    # mean squared difference per coordinate of centroids a and z
    acc = 0.0
    for m in range(cents.shape[1]):
        acc += (cents[a, m] - cents[z, m]) ** 2
    return acc / cents.shape[1]


def _activate(pre: torch.Tensor, width: int) -> torch.Tensor:
    """``nn.LSTM``'s gates (input, forget, cell[, output]; rows, 3H or 4H) after their nonlinearities, in
    place; tanh(x) = 2 sigmoid(2x) - 1 (torch's vectorised CPU sigmoid: a Numba loop of scalar
    exponentials cost several times more)."""
    cell = pre[:, 2 * width:3 * width]
    cell.mul_(2.0)
    torch.sigmoid_(pre)
    cell.mul_(2.0).sub_(1.0)
    return pre


@njit(cache=True, fastmath=True)
def _pull(hs, c0, act, valid, cents, temperature, separation, consistency):  # pragma: no cover
    # hs (L, B, T, H) every layer's outputs; c0 (L, B, H) the cells the rows started from; act
    # (L, B * T, 3H) the input, forget and cell gates from the net's own previous h; valid (B, T) bool; cents (K, 2LH), a
    # row's state being every layer's (h, c) in turn. Returns the pull and the separation, the cells
    # (L, rows, H), the distances, assignments (rows, K), every row's pull, the consistency's steps
    # (rows: t >= 1, valid, after a valid step) and their previous step's soft centroid (rows, 2LH).
    layers, n, steps, width = hs.shape
    rows = n * steps
    k_n, dim = cents.shape
    zero = np.zeros(1, hs.dtype)[0]
    c = np.empty((layers, rows, width), hs.dtype)
    for ell in range(layers):
        for b in range(n):
            for t in range(steps):
                r = b * steps + t
                for j in range(width):
                    before = c[ell, r - 1, j] if t > 0 else c0[ell, b, j]
                    c[ell, r, j] = act[ell, r, width + j] * before + act[ell, r, j] * act[ell, r, 2 * width + j]
    count = valid.sum()
    d = np.zeros((rows, k_n), hs.dtype)
    p = np.zeros((rows, k_n), hs.dtype)
    per = np.zeros(rows, hs.dtype)
    s = np.empty(dim, hs.dtype)
    total = 0.0
    for b in range(n):
        for t in range(steps):
            if not valid[b, t]:
                continue
            r = b * steps + t
            _gather(s, hs, c, b, t)
            low = zero + 3.0e38  # above any distance of finite states (no inf: fastmath assumes none)
            for k in range(k_n):
                acc = zero
                for m in range(dim):
                    diff = s[m] - cents[k, m]
                    acc += diff * diff
                d[r, k] = acc / dim
                low = min(low, d[r, k])
            norm = zero
            for k in range(k_n):
                p[r, k] = np.exp((low - d[r, k]) / temperature)
                norm += p[r, k]
            for k in range(k_n):
                p[r, k] /= norm
                per[r] += p[r, k] * d[r, k]
            total += per[r] / count
    total += _separation(cents, separation)
    pair = np.zeros(rows, np.bool_)
    for b in range(n):
        for t in range(1, steps):
            pair[b * steps + t] = consistency > 0.0 and valid[b, t] and valid[b, t - 1]
    qs = np.zeros((rows if pair.any() else 0, dim), hs.dtype)
    if qs.shape[0]:
        q = np.dot(p, cents)
        for b in range(n):
            for t in range(1, steps):
                qs[b * steps + t] = q[b * steps + t - 1]
    return total, c, d, p, per, pair, qs


@njit(cache=True, fastmath=True)
def _step_error(hs, c, act2, qs, pair):  # pragma: no cover
    # the consistency's error: act2 (L, rows, 4H) the gates of the steps from the soft centroids qs;
    # returns the mean over the steps `pair` and the layers of (|h' - h|^2 + |c' - c|^2) / H, tanh
    # of the steps' cells and their h and c minus the net's (L, rows, H)
    layers, n, steps, width = hs.shape
    rows = n * steps
    tc2 = np.zeros((layers, rows, width), hs.dtype)
    eh = np.zeros((layers, rows, width), hs.dtype)
    ec = np.zeros((layers, rows, width), hs.dtype)
    error = 0.0
    for ell in range(layers):
        for r in range(rows):
            if not pair[r]:
                continue
            b, t = r // steps, r % steps
            acc = 0.0
            for j in range(width):
                i, f, g, o = (act2[ell, r, j], act2[ell, r, width + j], act2[ell, r, 2 * width + j],
                              act2[ell, r, 3 * width + j])
                c2 = f * qs[r, (2 * ell + 1) * width + j] + i * g
                tc2[ell, r, j] = 2.0 / (1.0 + np.exp(-2.0 * c2)) - 1.0  # tanh (numba's np.tanh is several times slower)
                eh[ell, r, j] = o * tc2[ell, r, j] - hs[ell, b, t, j]
                ec[ell, r, j] = c2 - c[ell, r, j]
                acc += eh[ell, r, j] * eh[ell, r, j] + ec[ell, r, j] * ec[ell, r, j]
            error += acc / width
    return error / (pair.sum() * layers), tc2, eh, ec


@njit(cache=True, fastmath=True)
def _separation(cents, separation):  # pragma: no cover
    k_n = cents.shape[0]
    pairs = k_n * (k_n - 1) // 2
    push = 0.0
    for a in range(k_n):
        for z in range(a + 1, k_n):
            push += max(separation - _gap(cents, a, z), 0.0)
    return push / pairs if pairs > 0 else 0.0


@njit(cache=True, fastmath=True)
def _step_grad(scale, qs, act2, tc2, eh, ec, pair, d_hs, d_c, d_pre):  # pragma: no cover
    # the consistency's error (times scale) back to the steps' gates' pre-activations (into d_pre
    # (L, rows, 4H)), to the net's h and c (from d_hs, d_c (L, rows, H)); returns its gradient by
    # the soft centroids' cell parts (rows, 2LH; the h parts are left to the caller's products)
    layers, rows, width = eh.shape
    d_q = np.zeros(qs.shape, qs.dtype)
    for ell in range(layers):
        for r in range(rows):
            if not pair[r]:
                continue
            for j in range(width):
                i, f, g, o = (act2[ell, r, j], act2[ell, r, width + j], act2[ell, r, 2 * width + j],
                              act2[ell, r, 3 * width + j])
                tc = tc2[ell, r, j]
                dh2, dc2 = scale * eh[ell, r, j], scale * ec[ell, r, j]
                d_hs[ell, r, j] -= dh2
                d_c[ell, r, j] -= dc2
                dc2 += dh2 * o * (1.0 - tc * tc)
                d_pre[ell, r, j] = dc2 * g * i * (1.0 - i)
                d_pre[ell, r, width + j] = dc2 * qs[r, (2 * ell + 1) * width + j] * f * (1.0 - f)
                d_pre[ell, r, 2 * width + j] = dc2 * i * (1.0 - g * g)
                d_pre[ell, r, 3 * width + j] = dh2 * tc * o * (1.0 - o)
                d_q[r, (2 * ell + 1) * width + j] = dc2 * f
    return d_q


@njit(cache=True, fastmath=True)
def _pull_grad(grad, hs, c, valid, cents, temperature, separation, d, p, per, g_p, d_hs, d_c, d_cents):  # pragma: no cover
    # the pull's and the separation's gradient (times grad), and the assignments' (g_p (rows, K), from
    # outside), into d_hs, d_c (L, rows, H) and d_cents (K, 2LH)
    layers, n, steps, width = hs.shape
    k_n, dim = cents.shape
    zero = np.zeros(1, hs.dtype)[0]
    count = valid.sum()
    s = np.empty(dim, hs.dtype)
    d_s = np.empty(dim, hs.dtype)
    g = np.empty(k_n, hs.dtype)
    scale = 2.0 * grad / (max(count, 1) * dim)
    for b in range(n):
        for t in range(steps):
            if not valid[b, t]:
                continue
            r = b * steps + t
            _gather(s, hs, c, b, t)
            mean_a = zero  # the softmax's backward: dp_j/dd_k = -p_j (delta_jk - p_k) / T
            for k in range(k_n):
                mean_a += p[r, k] * g_p[r, k]
            total = zero
            for k in range(k_n):  # dL/dd_k times the 2 / dim of dd_k/ds = 2 (s - m_k) / dim
                g[k] = (scale * p[r, k] * (1.0 - (d[r, k] - per[r]) / temperature)
                        - (2.0 / dim) * p[r, k] * (g_p[r, k] - mean_a) / temperature)
                total += g[k]
            for m in range(dim):
                d_s[m] = total * s[m]
            for k in range(k_n):
                for m in range(dim):
                    d_s[m] -= g[k] * cents[k, m]
                    d_cents[k, m] += g[k] * (cents[k, m] - s[m])
            for ell in range(layers):
                for j in range(width):
                    d_hs[ell, r, j] += d_s[2 * ell * width + j]
                    d_c[ell, r, j] += d_s[(2 * ell + 1) * width + j]
    pairs = k_n * (k_n - 1) // 2
    for a in range(k_n):
        for z in range(a + 1, k_n):
            if separation - _gap(cents, a, z) > 0.0:
                for m in range(dim):
                    step = grad * 2.0 * (cents[a, m] - cents[z, m]) / (dim * pairs)
                    d_cents[a, m] -= step
                    d_cents[z, m] += step


@njit(cache=True, fastmath=True)
def _scan_grad(act, c, c0, d_c, n):  # pragma: no cover
    # the cell scan's backward: d_c (L, rows, H) to the input, forget and cell gates' pre-activations
    # (L, rows, 3H) and to the cells the rows started from (L, B, H)
    layers, rows, width = c.shape
    steps = rows // n
    scan = np.empty((layers, rows, 3 * width), c.dtype)
    d_c0 = np.zeros((layers, n, width), c.dtype)
    for ell in range(layers):
        for b in range(n):
            for t in range(steps - 1, -1, -1):
                r = b * steps + t
                for j in range(width):
                    dc = d_c[ell, r, j] + d_c0[ell, b, j]  # d_c0 carries dL/dc through the next step
                    i, f, g = act[ell, r, j], act[ell, r, width + j], act[ell, r, 2 * width + j]
                    before = c[ell, r - 1, j] if t > 0 else c0[ell, b, j]
                    scan[ell, r, j] = dc * g * i * (1.0 - i)
                    scan[ell, r, width + j] = dc * before * f * (1.0 - f)
                    scan[ell, r, 2 * width + j] = dc * i * (1.0 - g * g)
                    d_c0[ell, b, j] = dc * f
    return scan, d_c0


def _array(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(dtype).numpy())


class LstmTerm(torch.autograd.Function):
    """The centroids' term of an ``nn.LSTM`` stack (CPU, float32/64), one node.

    ``apply(x (B, T, E), h0, c0 (L, B, H) or None (zeros), valid (B, T) bool, centroids
    (K, 2LH), temperature, separation, consistency, L, h_0, ..., h_{L-1} (B, T, H), then every
    layer's weight_ih, weight_hh[, bias_ih, bias_hh])``: ``x`` the stack's input, ``h_l`` layer
    ``l``'s outputs (the top one from the net's call, the lower ones run again), ``(h0, c0)`` the
    state the rows started from. Returns the term (a scalar; module docstring); its gradient
    reaches every tensor argument but ``valid``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, h0: torch.Tensor | None, c0: torch.Tensor | None, valid: torch.Tensor,
                cents: torch.Tensor, temperature: float, separation: float, consistency: float, layers: int,
                *tensors: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        hs, params = tensors[:layers], tensors[layers:]
        per = len(params) // layers
        n, steps, width = hs[0].shape
        rows, three = n * steps, 3 * width
        span = 4 * width if consistency > 0 and steps > 1 else three  # the output gate: the consistency's steps only
        x0 = _array(x, dtype)
        h_stack = np.stack([_array(h, dtype) for h in hs]) if layers > 1 else _array(hs[0], dtype)[None]
        weights = [params[per * ell + k].detach().to(dtype) for ell in range(layers) for k in range(per)]
        zeros = np.zeros((layers, n, width), x0.dtype)
        start = [zeros if s is None else _array(s, dtype) for s in (h0, c0)]
        real = x0.dtype.type
        constants = (_array(valid, torch.bool), _array(cents, dtype), real(temperature), real(separation),
                     real(consistency))
        t = torch.from_numpy
        xw = np.empty((layers, rows, span), x0.dtype)  # the inputs' part of the gates' pre-activations, bias included
        act = np.empty((layers, rows, three), x0.dtype)  # the input, forget and cell gates from the net's own h
        for ell in range(layers):
            w_ih, w_hh, *bias = weights[per * ell:per * (ell + 1)]
            inp = t(_rows(x0, h_stack, ell))
            if bias:
                torch.addmm(bias[0][:span] + bias[1][:span], inp, w_ih[:span].T, out=t(xw[ell]))
            else:
                torch.mm(inp, w_ih[:span].T, out=t(xw[ell]))
            torch.addmm(t(xw[ell])[:, :three], t(_shifted(h_stack[ell], start[0][ell])), w_hh[:three].T, out=t(act[ell]))
            _activate(t(act[ell]), width)
        total, c, d, p, per_row, pair, qs = _pull(h_stack, start[1], act, *constants)
        act2 = np.empty((layers if qs.shape[0] else 0, rows, 4 * width), x0.dtype)  # the gates of the steps from q
        tc2 = eh = ec = np.zeros((0, rows, width), x0.dtype)
        if qs.shape[0]:
            for ell in range(layers):
                torch.addmm(t(xw[ell]), t(qs)[:, 2 * ell * width:(2 * ell + 1) * width], weights[per * ell + 1].T,
                            out=t(act2[ell]))
                _activate(t(act2[ell]), width)
            error, tc2, eh, ec = _step_error(h_stack, c, act2, qs, pair)
            total += consistency * error
        ctx.save_for_backward(*weights)
        ctx.arrays = ((x0, h_stack, *start), constants, (act, c, d, p, per_row, pair, act2, tc2, eh, ec, qs))
        ctx.shape = (layers, per, span, cents.dtype)
        return x.new_tensor(total)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        (x0, hs, h0, c0), constants, saved = ctx.arrays
        valid, cents, temperature, separation, consistency = constants
        act, c, d, p, per_row, pair, act2, tc2, eh, ec, qs = saved
        layers, per, span, cents_dtype = ctx.shape
        weights = ctx.saved_tensors
        _, n, steps, width = hs.shape
        rows, three = n * steps, 3 * width
        g = x0.dtype.type(grad)
        t = torch.from_numpy
        d_hs, d_c = np.zeros((2, layers, rows, width), x0.dtype)
        d_pre = np.zeros((layers, rows, span), x0.dtype)  # by the inputs' part of the pre-activations
        d_whh = np.zeros((layers, 4 * width, width), x0.dtype)
        d_cents = np.zeros(cents.shape, x0.dtype)
        g_p = np.zeros(p.shape, x0.dtype)  # by the assignments, from the consistency
        if act2.shape[0]:
            scale = x0.dtype.type(g * consistency * 2.0 / (width * pair.sum() * layers))
            d_q = t(_step_grad(scale, qs, act2, tc2, eh, ec, pair, d_hs, d_c, d_pre))
            for ell in range(layers):
                part = slice(2 * ell * width, (2 * ell + 1) * width)
                d_q[:, part] = t(d_pre[ell]) @ weights[per * ell + 1]
                torch.mm(t(d_pre[ell]).T, t(qs)[:, part], out=t(d_whh[ell]))
            d_q = torch.cat([d_q[1:], torch.zeros_like(d_q[:1])])  # by the previous step's q: row r's q is q[r - 1]
            torch.mm(d_q, t(cents).T, out=t(g_p))
            torch.mm(t(p).T, d_q, out=t(d_cents))
        _pull_grad(g, hs, c, valid, cents, temperature, separation, d, p, per_row, g_p, d_hs, d_c, d_cents)
        scan, d_c0 = _scan_grad(act, c, c0, d_c, n)
        d_x0 = torch.empty(0)
        d_h0 = torch.zeros(layers, n, width, dtype=weights[0].dtype)
        d_params: list[torch.Tensor] = []
        for ell in range(layers):
            w_ih, w_hh = weights[per * ell:per * ell + 2]
            d_prev = (t(scan[ell]) @ w_hh[:three]).reshape(n, steps, width)  # by the previous h of every row
            d_h0[ell] = d_prev[:, 0]
            t(d_hs[ell]).reshape(n, steps, width)[:, :-1] += d_prev[:, 1:]
            t(d_whh[ell])[:three].addmm_(t(scan[ell]).T, t(_shifted(hs[ell], h0[ell])))
            pre = t(d_pre[ell])
            pre[:, :three] += t(scan[ell])
            d_inp = pre @ w_ih[:span]
            if ell == 0:
                d_x0 = d_inp
            else:
                t(d_hs[ell - 1]).add_(d_inp)
            d_w_ih, d_bias = torch.zeros_like(w_ih), torch.zeros(4 * width, dtype=w_ih.dtype)
            torch.mm(pre.T, t(_rows(x0, hs, ell)), out=d_w_ih[:span])
            torch.sum(pre, 0, out=d_bias[:span])
            d_params += [d_w_ih, t(d_whh[ell])] + ([d_bias, d_bias] if per == 4 else [])
        need = ctx.needs_input_grad
        return (d_x0.reshape(x0.shape), d_h0 if need[1] else None, t(d_c0) if need[2] else None, None,
                t(d_cents).to(cents_dtype), None, None, None, None,
                *(t(d_hs[ell]).reshape(n, steps, width) for ell in range(layers)), *d_params)
