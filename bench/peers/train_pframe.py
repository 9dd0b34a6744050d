"""PyTorch peer of bench/train.ts: one stage-1 (MSE) training step of the P-frame codec of
preset pframe-inf-2-mse (src/models/pframe.ts, src/train/gop-trainer.ts `mseStep`).

Widths [16, 32, 32, 64], 5x5 kernels, 64x64 frames, rate 2 = a 1-dim motion latent and a
1-dim content latent of 2 levels each:
- reference: the first frame rounded to 8 bits (R1 = inf);
- motion encoder on cat(X, ref): four 5x5 stride-2 convs 2-16-32-32-64 without bias, each with
  BatchNorm and LeakyReLU 0.2, flatten (4x4x64), a dense layer to 1 without bias, BatchNorm
  (initial gain 6), tanh;
- dithered quantizer, 2 levels: hard forward, the soft quantizer's gradient (sigma 1);
- flow decoder on (level, dither): dense 2 -> 4x4x64 without bias, BatchNorm, LeakyReLU, 5x5
  stride-2 transposed convs 64-32-32-16 (BatchNorm, LeakyReLU) and a transposed conv 16 -> 3
  with bias: the field (dx, dy, s), its initial weights scaled by 0.01;
- scale-space warp: the volume [ref, blur(ref)] (Gaussian sigma 1.5, 11 taps, replicate
  padding) sampled by F.grid_sample (trilinear, align_corners=False, padding border) at
  (x + dx, y + dy, s);
- content encoder on cat(X, prediction): as the motion encoder;
- MMSE decoder: a context encoder on the prediction (four 5x5 stride-2 convs 1-16-16-16-16,
  BatchNorm, LeakyReLU) and a U-Net content decoder: dense (level, dither) 2 -> 4x4x64,
  BatchNorm, LeakyReLU, joined by the 4x4 context map; transposed convs 80-32, 48-32, 48-16,
  32-16, each output joined by the context map of its resolution (the prediction itself at
  64x64), then a 5x5 conv 17 -> 1 with bias and a sigmoid;
- MSE against X; Adam lr 1e-3 over every trainable parameter.
The networks and the quantizer are bench/peers/pframe_net.py's, shared with codec_pframe.py.
Convs followed by BatchNorm carry no bias, as ours. Input: two uniform random frames per
sample (speed does not depend on content); a fresh dither every step.
Prints the parameter count and forward multiply-adds, then, last, one JSON line with samples/s
from the median step time.
Usage: python3 train_pframe.py [steps] [batch] [threads]  (threads: 2 unless given)
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ left beside the scripts
from pframe_net import PFrameNet, Quantizer, kernel, size

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(0)
motion_dims, content_dims, levels = 1, 1, 2
SOFT_SIGMA = 1.0

# Training: the hard forward with the soft quantizer's gradient; one MMSE decoder, no extra frames.
quantize = Quantizer(levels, soft_sigma=SOFT_SIGMA)
net = PFrameNet(motion_dims, content_dims, {'mmse': 0})
params = [p for p in net.parameters() if p.requires_grad]
opt = torch.optim.Adam(params, lr=1e-3)
x0, x1 = torch.rand(batch, 1, size, size), torch.rand(batch, 1, size, size)


def forward(x_prev, x):
    ref = torch.floor(x_prev.clamp(0, 1) * 255 + 0.5) / 255
    um, uc = quantize.dither(x.shape[0], motion_dims), quantize.dither(x.shape[0], content_dims)
    return net.encode(x, ref, um, uc, quantize)[2]


def step():
    opt.zero_grad()
    loss = torch.mean((forward(x0, x1) - x1) ** 2)
    loss.backward()
    opt.step()


def forward_macs():
    """Multiply-adds of one sample's forward pass in the conv and dense layers (the warp's blur, BatchNorm and elementwise ops not counted)."""
    total = [0]

    def hook(m, inputs, out):
        # One sample's share: output (conv) or input (transposed conv) elements of sample 0.
        if isinstance(m, nn.Conv2d):
            total[0] += out[0].numel() * m.in_channels * kernel * kernel
        elif isinstance(m, nn.ConvTranspose2d):
            total[0] += inputs[0][0].numel() * m.out_channels * kernel * kernel
        elif isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        forward(x0[:2], x1[:2])  # batch 2: BatchNorm1d needs more than one sample in training mode
    net.load_state_dict(state)  # undo the running-statistics update
    for h in handles:
        h.remove()
    return total[0]


param_count = sum(p.numel() for p in params)
macs = forward_macs()
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}: {param_count} trainable parameters, {macs / 1e6:.1f} M multiply-adds per sample forward")
step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
print(json.dumps({
    "samples_per_s": batch / statistics.median(times), "torch": torch.__version__, "threads": torch.get_num_threads(),
    "params": param_count, "forward_macs_per_sample": macs,
}))
