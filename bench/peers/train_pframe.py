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
Convs followed by BatchNorm carry no bias, as ours. Input: two uniform random frames per
sample (speed does not depend on content); a fresh dither every step.
Prints the parameter count and forward multiply-adds, then, last, one JSON line with samples/s
from the median step time.
Usage: python3 train_pframe.py [steps] [batch] [threads]  (threads: 2 unless given)
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(0)
size, widths, kernel = 64, [16, 32, 32, 64], 5
context_width = widths[0]
motion_dims, content_dims, levels = 1, 1, 2
LATENT_GAIN, FLOW_INIT_SCALE, SOFT_SIGMA = 6.0, 0.01, 1.0
BLUR_SIGMA, BLUR_TAPS = 1.5, 11
bottom = size >> len(widths)
flat = bottom * bottom * widths[-1]
pad = kernel // 2


def he(weight, fan_in):
    """He-normal init, fan-in = k*k*cin (transposed convs: their input channels), as layers.ts."""
    with torch.no_grad():
        weight.normal_(0, math.sqrt(2 / fan_in))
    return weight


def down(cin, cout):
    conv = nn.Conv2d(cin, cout, kernel, 2, pad, bias=False)
    he(conv.weight, kernel * kernel * cin)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


def up(cin, cout):
    conv = nn.ConvTranspose2d(cin, cout, kernel, 2, pad, output_padding=1, bias=False)
    he(conv.weight, kernel * kernel * cin)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class LatentEncoder(nn.Module):
    """Stride-2 stack to 4x4, dense to d, BatchNorm with initial gain LATENT_GAIN, tanh."""

    def __init__(self, cin, dims):
        super().__init__()
        self.blocks = nn.Sequential(*[down(a, b) for a, b in zip([cin] + widths[:-1], widths)])
        self.dense = nn.Linear(flat, dims, bias=False)
        he(self.dense.weight, flat)
        self.bn = nn.BatchNorm1d(dims)
        with torch.no_grad():
            self.bn.weight.fill_(LATENT_GAIN)

    def forward(self, x):
        return torch.tanh(self.bn(self.dense(self.blocks(x).flatten(1))))


class LatentMap(nn.Module):
    """(level, dither) [B, 2d] -> the bottom feature map [B, 64, 4, 4]: dense without bias, BatchNorm, LeakyReLU."""

    def __init__(self, dims):
        super().__init__()
        self.dense = nn.Linear(2 * dims, flat, bias=False)
        he(self.dense.weight, 2 * dims)
        self.bn = nn.BatchNorm1d(flat)

    def forward(self, zq, u):
        h = self.bn(self.dense(torch.cat([zq + u, u], 1)))
        return F.leaky_relu(h.view(-1, widths[-1], bottom, bottom), 0.2)


class FlowDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        rev = widths[::-1]
        self.latent = LatentMap(motion_dims)
        self.blocks = nn.Sequential(*[up(a, b) for a, b in zip(rev[:-1], rev[1:])])
        self.out = nn.ConvTranspose2d(widths[0], 3, kernel, 2, pad, output_padding=1)
        with torch.no_grad():
            he(self.out.weight, kernel * kernel * widths[0]).mul_(FLOW_INIT_SCALE)
            self.out.bias.zero_()

    def forward(self, zq, u):
        return self.out(self.blocks(self.latent(zq, u)))


class Decoder(nn.Module):
    """Context encoder on the prediction and the U-Net content decoder (DCVC-style conditional coding)."""

    def __init__(self):
        super().__init__()
        n, cw, rev = len(widths), context_width, widths[::-1]
        self.context = nn.ModuleList([down(1 if i == 0 else cw, cw) for i in range(n)])
        self.latent = LatentMap(content_dims)
        self.blocks = nn.ModuleList([up(rev[i] + cw, rev[i + 1] if i + 1 < n else widths[0]) for i in range(n)])
        self.out = nn.Conv2d(widths[0] + 1, 1, kernel, 1, pad)
        with torch.no_grad():
            he(self.out.weight, kernel * kernel * (widths[0] + 1))
            self.out.bias.zero_()

    def forward(self, zq, u, pred):
        maps, f = [], pred
        for b in self.context:
            f = b(f)
            maps.append(f)
        h = torch.cat([self.latent(zq, u), maps.pop()], 1)
        for i, b in enumerate(self.blocks):
            h = torch.cat([b(h), maps.pop() if i + 1 < len(self.blocks) else pred], 1)
        return torch.sigmoid(self.out(h))


centers = torch.linspace(-1, 1, levels)
bin_width = 2 / (levels - 1)


class DitheredQuantizer(torch.autograd.Function):
    """levels[q(z + u)] - u forward; backward: the slope of sum(c * softmax(-sigma |z + u - c|))."""

    @staticmethod
    def forward(ctx, z, u):
        ctx.save_for_backward(z, u)
        x = z.clamp(-1, 1) + u
        k = torch.floor((x + 1) * ((levels - 1) / 2) + 0.5).clamp(0, levels - 1)
        return centers[k.long()] - u

    @staticmethod
    def backward(ctx, dy):
        z, u = ctx.saved_tensors
        diff = (z + u).unsqueeze(-1) - centers
        p = torch.softmax(-SOFT_SIGMA * diff.abs(), -1)
        a = -SOFT_SIGMA * torch.sign(diff)
        s = (p * centers).sum(-1)
        slope = (p * centers * a).sum(-1) - s * (p * a).sum(-1)
        return dy * slope, None


quantize = DitheredQuantizer.apply

taps = torch.exp(-((torch.arange(BLUR_TAPS) - (BLUR_TAPS - 1) / 2) ** 2) / (2 * BLUR_SIGMA**2))
taps = taps / taps.sum()
taps_v, taps_h = taps.view(1, 1, BLUR_TAPS, 1), taps.view(1, 1, 1, BLUR_TAPS)
# align_corners=False: pixel j at normalised (2j + 1)/W - 1; the field's dx, dy are in those units.
base = (2 * torch.arange(size, dtype=torch.float32) + 1) / size - 1


def scale_space_warp(ref, field):
    """ref [B, 1, H, W], field [B, 3, H, W] = (dx, dy, s) -> [B, 1, H, W]; depth s in [0, 1] is grid z = s - 0.5."""
    r = (BLUR_TAPS - 1) // 2
    blurred = F.conv2d(F.conv2d(F.pad(ref, (r, r, r, r), mode='replicate'), taps_v), taps_h)
    volume = torch.stack([ref, blurred], 2)  # [B, 1, 2, H, W]
    grid = torch.stack([base.view(1, 1, -1) + field[:, 0], base.view(1, -1, 1) + field[:, 1], field[:, 2] - 0.5], -1)
    return F.grid_sample(volume, grid.unsqueeze(1), mode='bilinear', padding_mode='border', align_corners=False).squeeze(2)


motion, flow, content, decoder = LatentEncoder(2, motion_dims), FlowDecoder(), LatentEncoder(2, content_dims), Decoder()
modules = nn.ModuleList([motion, flow, content, decoder])
params = [p for p in modules.parameters() if p.requires_grad]
opt = torch.optim.Adam(params, lr=1e-3)
x0, x1 = torch.rand(batch, 1, size, size), torch.rand(batch, 1, size, size)


def forward(x_prev, x):
    ref = torch.floor(x_prev.clamp(0, 1) * 255 + 0.5) / 255
    um = (torch.rand(x.shape[0], motion_dims) - 0.5) * bin_width
    uc = (torch.rand(x.shape[0], content_dims) - 0.5) * bin_width
    mq = quantize(motion(torch.cat([x, ref], 1)), um)
    pred = scale_space_warp(ref, flow(mq, um))
    cq = quantize(content(torch.cat([x, pred], 1)), uc)
    return decoder(cq, uc, pred)


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

    handles = [m.register_forward_hook(hook) for m in modules.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    state = {k: v.clone() for k, v in modules.state_dict().items()}
    with torch.no_grad():
        forward(x0[:2], x1[:2])  # batch 2: BatchNorm1d needs more than one sample in training mode
    modules.load_state_dict(state)  # undo the running-statistics update
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
