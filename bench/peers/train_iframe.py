"""PyTorch peer of bench/train.ts: one MSE training step of the paper's I-frame codec.

Encoder: four 4x4 stride-2 convs (1-64-128-256-512) with BatchNorm and LeakyReLU 0.2, a 4x4
valid conv to 12 latents with BatchNorm and tanh; dithered quantizer with L=2 (hard forward,
soft-quantizer gradient); mirrored transposed-conv decoder reading the quantized level and the
dither as 24 input channels, with a sigmoid; Adam 1e-3.
Input: uniform random frames (speed does not depend on content).
Prints one JSON line: samples/s from the median step time.
Usage: python3 train_iframe.py [steps] [batch] [threads] [device]  (device: cpu, or cuda against our webgpu)
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
widths = [64, 128, 256, 512]
dims, levels = 12, 2


def block(conv, channels):
    return [conv, nn.BatchNorm2d(channels), nn.LeakyReLU(0.2)]


enc = []
for cin, cout in zip([1] + widths[:-1], widths):
    enc += block(nn.Conv2d(cin, cout, 4, 2, 1), cout)
enc += [nn.Conv2d(widths[-1], dims, 4, 1, 0), nn.BatchNorm2d(dims), nn.Tanh()]
rev = widths[::-1]
dec = block(nn.ConvTranspose2d(2 * dims, rev[0], 4, 1, 0), rev[0])
for cin, cout in zip(rev[:-1], rev[1:]):
    dec += block(nn.ConvTranspose2d(cin, cout, 4, 2, 1), cout)
dec += [nn.ConvTranspose2d(widths[0], 1, 4, 2, 1), nn.Sigmoid()]
encoder, decoder = nn.Sequential(*enc).to(device), nn.Sequential(*dec).to(device)
centers = torch.linspace(-1, 1, levels, device=device)
width = 2 / (levels - 1)


def quantize(z):
    u = (torch.rand_like(z) - 0.5) * width
    x = z + u
    hard = centers[torch.argmin((x.unsqueeze(-1) - centers).abs(), dim=-1)]
    soft = (torch.softmax(-(x.unsqueeze(-1) - centers).abs(), dim=-1) * centers).sum(-1)
    level = soft + (hard - soft).detach()
    return torch.cat([level, u], dim=1)


params = list(encoder.parameters()) + list(decoder.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
x = torch.rand(batch, 1, 64, 64, device=device)


def step():
    opt.zero_grad()
    loss = torch.mean((decoder(quantize(encoder(x))) - x) ** 2)
    loss.backward()
    opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()  # the step's kernels, not only their launch


step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
name = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"
print(json.dumps({"samples_per_s": batch / statistics.median(times), "torch": torch.__version__, "threads": torch.get_num_threads(), "device": name}))
