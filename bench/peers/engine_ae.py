"""PyTorch peer of the engine benchmark: the reference autoencoder of DESIGN.md section 1.

Prints one JSON line: forward and train-step medians in milliseconds.
Usage: python3 engine_ae.py [steps] [threads]   (threads: 2 unless given)
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(0)

def stack(layers):
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i < len(layers) - 1:
            out.append(nn.ReLU())
    return nn.Sequential(*out)

enc = [nn.Conv2d(a, b, 5, stride=2, padding=2) for a, b in [(1, 64), (64, 64), (64, 64), (64, 8)]]
dec = [nn.ConvTranspose2d(a, b, 5, stride=2, padding=2, output_padding=1) for a, b in [(8, 64), (64, 64), (64, 64), (64, 1)]]
model = nn.Sequential(stack(enc), nn.ReLU(), stack(dec))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(32, 1, 64, 64)

def forward():
    with torch.no_grad():
        return model(x)

def step():
    opt.zero_grad()
    loss = torch.mean((model(x) - x) ** 2)
    loss.backward()
    opt.step()
    return loss.item()

def median_ms(fn):
    fn()
    fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)

print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "forward_ms": median_ms(forward), "step_ms": median_ms(step)}))
