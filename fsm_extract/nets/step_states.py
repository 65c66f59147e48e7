"""Every step's full recurrent state of a fused ``nn.LSTM``/``nn.GRU``/``nn.RNN`` call, with gradients.

``nn.LSTM`` returns only the top layer's ``h`` at every step; the regulariser of
:mod:`~fsm_extract.nets.extractability` needs every layer's ``h`` and an LSTM's ``c`` too. They
are recomputed from the top layer's outputs in parallel over the steps (the gates of every step
need only the previous ``h``; the cell vector is then an elementwise scan with its backward
written out), which costs a fraction of unrolling the net step by step (about 7x a fused call).

Rows may start from a given state (``initial``), not only the zero state: the regulariser runs
windows of long words from the state their unregularised beginnings left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numba import njit
from torch import nn

__all__ = ["CellScan", "Layer", "LinearScan", "captured", "cell_step", "gate_activations", "layer_states", "layer_weights",
           "lstm_gates", "numba_scan", "previous", "run_layer", "split_state"]


@contextlib.contextmanager
def captured(rnn: nn.Module) -> Iterator[list]:
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


def layer_weights(rnn: nn.RNNBase, layer: int) -> tuple:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of ``layer`` (the biases None without them)."""
    return tuple(getattr(rnn, f"{name}_l{layer}", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def cell_step(rnn: nn.RNNBase, layer: int, x: torch.Tensor, state: Any) -> Any:
    """One step of ``layer`` for a batch of inputs and states (rows): the next state."""
    w = layer_weights(rnn, layer)
    if isinstance(rnn, nn.LSTM):
        return torch.lstm_cell(x, state, *w)
    if isinstance(rnn, nn.GRU):
        return torch.gru_cell(x, state, *w)
    step = torch.rnn_tanh_cell if rnn.nonlinearity == "tanh" else torch.rnn_relu_cell
    return step(x, state, *w)


class LinearScan(torch.autograd.Function):
    """``c[t] = f[t] * c[t-1] + u[t]`` from ``c[-1] = 0`` over the steps (dim 1) of (B, T, H)
    tensors, with its backward written out: two loops of one in-place operation per step
    (steps first, so each step is contiguous), not an autograd graph of 3T nodes (that graph
    cost more than the net's own step). A start from ``c0`` is ``u[:, 0] += f[:, 0] * c0``."""

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


@njit(cache=True)
def _cells_forward(gates, c0):  # pragma: no cover
    # gates (B, T, 3H): the input, forget and cell gates after their nonlinearities; c0 (B, H)
    n, steps, three = gates.shape
    width = three // 3
    c = np.empty((n, steps, width), gates.dtype)
    for b in range(n):
        for t in range(steps):
            for j in range(width):
                before = c[b, t - 1, j] if t > 0 else c0[b, j]
                c[b, t, j] = gates[b, t, width + j] * before + gates[b, t, j] * gates[b, t, 2 * width + j]
    return c


@njit(cache=True)
def _cells_backward(grad, gates, c, c0):  # pragma: no cover
    # grad (B, T, H) of the loss by c; returns its gradient by the pre-activations (B, T, 3H) and by c0 (B, H)
    n, steps, width = grad.shape
    d_pre = np.empty_like(gates)
    carry = np.zeros((n, width), grad.dtype)  # dL/dc[t] through c[t + 1]
    for b in range(n):
        for t in range(steps - 1, -1, -1):
            for j in range(width):
                dc = grad[b, t, j] + carry[b, j]
                i, f, g = gates[b, t, j], gates[b, t, width + j], gates[b, t, 2 * width + j]
                before = c[b, t - 1, j] if t > 0 else c0[b, j]
                d_pre[b, t, j] = dc * g * i * (1 - i)
                d_pre[b, t, width + j] = dc * before * f * (1 - f)
                d_pre[b, t, 2 * width + j] = dc * i * (1 - g * g)
                carry[b, j] = dc * f
    return d_pre, carry


def gate_activations(pre: torch.Tensor) -> torch.Tensor:
    """The input, forget and cell gates (..., 3H) after their nonlinearities (sigmoid, sigmoid,
    tanh) from their pre-activations, without gradients; tanh(x) = 2 sigmoid(2x) - 1: torch's
    CPU sigmoid is about 3x faster than its tanh."""
    width = pre.shape[-1] // 3
    with torch.no_grad():
        scale = pre.new_ones(3 * width)
        scale[2 * width:] = 2.0
        gates = torch.sigmoid(pre * scale)
        gates[..., 2 * width:].mul_(2.0).sub_(1.0)
    return gates


class CellScan(torch.autograd.Function):
    """An LSTM layer's cell vectors (B, T, H) from its gates' pre-activations (B, T, 3H: input,
    forget, cell) and the cells it started from (B, H): ``c[t] = f[t] * c[t-1] + i[t] * g[t]``,
    forward and backward each one Numba loop (CPU tensors only: the many small torch
    operations of the same computation cost more than the net's own fused step)."""

    @staticmethod
    def forward(ctx: Any, pre: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
        gates = gate_activations(pre)
        c = torch.from_numpy(_cells_forward(gates.numpy(), c0.detach().contiguous().numpy()))
        ctx.save_for_backward(gates, c, c0.detach())
        return c

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gates, c, c0 = ctx.saved_tensors
        d_pre, d_c0 = _cells_backward(grad.contiguous().numpy(), gates.numpy(), c.numpy(), c0.contiguous().numpy())
        return torch.from_numpy(d_pre), torch.from_numpy(d_c0)


def previous(t: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
    """The state before every step of a (B, T, H) sequence: ``first`` (B, H) (None: the zero
    state), then ``t[:, :-1]``."""
    if first is None:
        return nn.functional.pad(t[:, :-1], (0, 0, 1, 0))
    return torch.cat([first[:, None].to(t), t[:, :-1]], dim=1)


@dataclass
class Layer:
    """One layer's inputs (B, T, E), hidden states (B, T, H), an LSTM's cell vectors, and the
    state every row started from (``h0``/``c0`` (B, H); None: the zero state)."""

    x: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor | None
    h0: torch.Tensor | None = None
    c0: torch.Tensor | None = None

    def h_prev(self) -> torch.Tensor:
        return previous(self.h, self.h0)

    def c_prev(self) -> torch.Tensor:
        return previous(self.c, self.c0)


def split_state(rnn: nn.RNNBase, initial: Any) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
    """``(h0, c0)`` of every layer from an ``nn.LSTM``/``nn.GRU`` initial state (None: zeros)."""
    if initial is None:
        return [(None, None)] * rnn.num_layers
    if isinstance(rnn, nn.LSTM):
        return [(initial[0][i], initial[1][i]) for i in range(rnn.num_layers)]
    return [(initial[i], None) for i in range(rnn.num_layers)]


def numba_scan(gates: torch.Tensor) -> bool:
    """Whether the cell scan of these tensors runs in Numba (:class:`CellScan`, and the
    regulariser's fused LSTM term :class:`~fsm_extract.nets.lstm_term.LstmTerm`: CPU float32/64
    tensors) rather than in torch (:class:`LinearScan`: a GPU, half precision)."""
    return gates.device.type == "cpu" and gates.dtype in (torch.float32, torch.float64)


def lstm_gates(rnn: nn.LSTM, layer: int, x: torch.Tensor, h: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """The input, forget and cell gates' pre-activations (B, T, 3H) of an LSTM layer with
    inputs x (B, T, E) and outputs h (B, T, H) from ``h0`` (None: zeros): every step's gates need
    only the previous ``h``, so they are one matrix product (the output gate is not needed)."""
    w_ih, w_hh, b_ih, b_hh = layer_weights(rnn, layer)
    three = 3 * rnn.hidden_size
    bias = None if b_ih is None else b_ih[:three] + b_hh[:three]
    return nn.functional.linear(torch.cat([x, previous(h, h0)], dim=-1),
                                torch.cat([w_ih[:three], w_hh[:three]], dim=1), bias)


def _lstm_cells(rnn: nn.LSTM, layer: int, x: torch.Tensor, h: torch.Tensor,
                h0: torch.Tensor | None, c0: torch.Tensor | None) -> torch.Tensor:
    """The cell vectors (B, T, H) of an LSTM layer (see :func:`lstm_gates`), from ``(h0, c0)``
    (None: zeros): ``c[t] = f[t] * c[t-1] + i[t] * g[t]``."""
    gates = lstm_gates(rnn, layer, x, h, h0)
    if numba_scan(gates):
        c0 = gates.new_zeros(gates.shape[0], rnn.hidden_size) if c0 is None else c0.to(gates)
        return CellScan.apply(gates, c0)
    i, f, g = gates.chunk(3, dim=-1)
    f, u = torch.sigmoid(f), torch.sigmoid(i) * torch.tanh(g)
    if c0 is not None:
        u = torch.cat([u[:, :1] + f[:, :1] * c0[:, None].to(u), u[:, 1:]], dim=1)
    return LinearScan.apply(f, u)


def layer_states(rnn: nn.RNNBase, x: torch.Tensor, top: torch.Tensor, initial: Any = None) -> list[Layer]:
    """Every layer's states, given the stack's input ``x``, top-layer output ``top`` and the
    initial state the call was given (None: zeros); lower layers of a stack are run again, one
    fused call each."""
    out = []
    inp = x
    for layer, (h0, c0) in enumerate(split_state(rnn, initial)):
        if layer == rnn.num_layers - 1:
            h = top
        else:
            h = run_layer(rnn, layer, inp, h0, c0)
        out.append(Layer(inp, h, _lstm_cells(rnn, layer, inp, h, h0, c0) if isinstance(rnn, nn.LSTM) else None, h0, c0))
        inp = h
    return out


def run_layer(rnn: nn.RNNBase, layer: int, x: torch.Tensor, h0: torch.Tensor | None = None,
              c0: torch.Tensor | None = None) -> torch.Tensor:
    """The outputs (B, T, H) of one layer of a stack, from ``(h0, c0)`` (None: zeros; one fused call)."""
    weights = [w for w in layer_weights(rnn, layer) if w is not None]
    zeros = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype, device=x.device)
    h0 = (zeros if h0 is None else h0.to(x))[None]
    flags = (rnn.bias, 1, 0.0, True, False, True)  # has_biases, num_layers, dropout, train, bidirectional, batch_first
    if isinstance(rnn, nn.LSTM):
        c0 = (zeros if c0 is None else c0.to(x))[None]
        return torch.lstm(x, (h0, c0), weights, *flags)[0]
    if isinstance(rnn, nn.GRU):
        return torch.gru(x, h0, weights, *flags)[0]
    run = torch.rnn_tanh if rnn.nonlinearity == "tanh" else torch.rnn_relu
    return run(x, h0, weights, *flags)[0]
