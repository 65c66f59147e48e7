"""Extract an automaton from a torch model that fsm-extract did not build.

The model below is the user's own class: one-hot inputs, an ``nn.LSTM`` and a two-class head.
Training it is the user's business (here: a few seconds on "even number of 1s");
``fx.RecurrentAdapter`` tells fsm-extract which part is which, and from then on the model is
traced and extracted like any other.

Run: python examples/user_model.py
"""

import numpy as np
import torch
from torch import nn

import fsm_extract as fx


class ParityNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 16, batch_first=True)
        self.classify = nn.Linear(16, 2)

    def embed(self, ids):
        return nn.functional.one_hot(ids, 2).float()

    def forward(self, ids):
        h, _ = self.lstm(self.embed(ids))
        return self.classify(h)  # class logits after every symbol


def train(net, seed=0, steps=400):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(steps):
        ids = torch.randint(0, 2, (64, 20), generator=g)
        target = (ids.cumsum(1) % 2 == 0).long()  # accept after an even number of 1s
        loss = nn.functional.cross_entropy(net(ids).reshape(-1, 2), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def main():
    torch.manual_seed(0)
    net = train(ParityNet())
    model = fx.RecurrentAdapter(embedding=net.embed, rnn=net.lstm, head=net.classify, alphabet="01")
    parity = fx.languages.from_regex("0*(10*10*)*", alphabet="01")
    data = parity.sample(n=500, min_len=0, max_len=20, seed=1)
    fsm = fx.extract(model, data, n_states=8, seed=0)
    print(fsm)
    print("equivalent to 'even number of 1s':", fsm.equivalent(parity.dfa))
    test = parity.sample(n=500, min_len=21, max_len=60, seed=2)
    agree = (fsm.predict(test.words) == model.predict(test.words)).mean()
    print(f"agreement with the net on 500 longer words: {agree:.3f}")


if __name__ == "__main__":
    main()
