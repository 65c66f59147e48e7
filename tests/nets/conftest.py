"""A small user net (embedding, recurrent layer, head) that several files of tests/nets wrap."""

from __future__ import annotations

import torch

import fsm_extract as fx


class _Net(torch.nn.Module):
    def __init__(self, cell=torch.nn.LSTM, layers=1):
        super().__init__()
        self.emb = torch.nn.Embedding(2, 3)
        self.rnn = cell(3, 6, num_layers=layers, batch_first=True)
        self.out = torch.nn.Linear(6, 1)


def _adapter(net, embedding=None):
    return fx.RecurrentAdapter(embedding=embedding or net.emb, rnn=net.rnn, head=net.out, alphabet="01")
