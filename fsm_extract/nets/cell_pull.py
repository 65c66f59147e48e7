"""The autograd nodes of the centroids' term on the torch path (a GPU, half precision, GRU and
tanh/ReLU cells), with their backward written out.

:class:`SoftPull`: the pull on given states (any cell). :class:`StepError`: the consistency's
LSTM step from the soft centroids and its error. On the CPU an LSTM's whole term is one node
(:class:`~fsm_extract.nets.lstm_term.LstmTerm`).

For a row (one step of one word) with state ``s`` (width ``W``), distances
``d_k = |s - m_k|^2 / W`` to the centroids ``m_k``, and ``p = softmax(-d / T)``, the pull is
``sum_k p_k d_k``, and ``dL/dd_k = p_k (1 - (d_k - L) / T)``. The term is the weighted sum of the
rows' pulls plus the mean over centroid pairs of ``relu(separation - |m_i - m_j|^2 / W)``.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["SoftPull", "StepError"]


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
