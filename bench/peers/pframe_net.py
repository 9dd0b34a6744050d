"""The P-frame networks of src/models/pframe.ts in PyTorch, shared by the peers train_pframe.py
(one stage-1 training step) and codec_pframe.py (encode and decode speed, eval mode, no_grad).

Widths [16, 32, 32, 64], 5x5 kernels, 64x64 frames (every P-frame preset the peers stand for);
the latent sizes, the decoders and the quantizer's gradient are the callers' parameters:
- LatentEncoder(cin, dims): the motion encoder (on cat(X, ref)) and the content encoder (on
  cat(X, prediction)): four 5x5 stride-2 convs cin-16-32-32-64 without bias, each with BatchNorm
  and LeakyReLU 0.2, flatten (4x4x64), a dense layer to dims without bias, BatchNorm (initial
  gain 6), tanh;
- LatentMap(dims): (level, dither) [B, 2 dims] -> dense without bias to 4x4x64, BatchNorm,
  LeakyReLU;
- FlowDecoder(dims): a LatentMap, 5x5 stride-2 transposed convs 64-32-32-16 (BatchNorm,
  LeakyReLU) and a transposed conv 16 -> 3 with bias: the field (dx, dy, s), its initial weights
  scaled by 0.01;
- scale_space_warp: the volume [ref, blur(ref)] (Gaussian sigma 1.5, 11 taps, replicate padding)
  sampled by F.grid_sample (trilinear, align_corners=False, padding border) at (x + dx, y + dy, s);
- Decoder(dims, extra): a context encoder on cat(prediction, `extra` earlier output frames) (four
  5x5 stride-2 convs (1 + extra)-16-16-16-16, BatchNorm, LeakyReLU) and a U-Net content decoder:
  a LatentMap joined by the 4x4 context map; transposed convs 80-32, 48-32, 48-16, 32-16, each
  output joined by the context map of its resolution (the frames themselves at 64x64), then a
  5x5 conv (17 + extra) -> 1 with bias and a sigmoid. extra is 0 but for jd's decoder;
- PFrameNet(motion_dims, content_dims, decoders): one P-frame position, the above put together,
  with its encoder side `encode`;
- Quantizer(levels, soft_sigma): the dithered quantizer, hard forward; soft_sigma None for no
  gradient (eval), a number for the soft quantizer's gradient (training).
Convs followed by BatchNorm carry no bias, as ours. Nothing here draws random numbers at import:
the callers seed torch and build the networks in the order they always have.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

size, widths, kernel = 64, [16, 32, 32, 64], 5
context_width = widths[0]
LATENT_GAIN, FLOW_INIT_SCALE = 6.0, 0.01
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
    """The motion latent's (level, dither) -> the field (dx, dy, s) [B, 3, H, W]."""

    def __init__(self, dims):
        super().__init__()
        rev = widths[::-1]
        self.latent = LatentMap(dims)
        self.blocks = nn.Sequential(*[up(a, b) for a, b in zip(rev[:-1], rev[1:])])
        self.out = nn.ConvTranspose2d(widths[0], 3, kernel, 2, pad, output_padding=1)
        with torch.no_grad():
            he(self.out.weight, kernel * kernel * widths[0]).mul_(FLOW_INIT_SCALE)
            self.out.bias.zero_()

    def forward(self, zq, u):
        return self.out(self.blocks(self.latent(zq, u)))


class Decoder(nn.Module):
    """Context encoder on cat(prediction, extra frames) and the U-Net content decoder (DCVC-style conditional coding)."""

    def __init__(self, dims, extra=0):
        super().__init__()
        n, cw, rev = len(widths), context_width, widths[::-1]
        self.context = nn.ModuleList([down(1 + extra if i == 0 else cw, cw) for i in range(n)])
        self.latent = LatentMap(dims)
        self.blocks = nn.ModuleList([up(rev[i] + cw, rev[i + 1] if i + 1 < n else widths[0]) for i in range(n)])
        self.out = nn.Conv2d(widths[0] + 1 + extra, 1, kernel, 1, pad)
        with torch.no_grad():
            he(self.out.weight, kernel * kernel * (widths[0] + 1 + extra))
            self.out.bias.zero_()

    def forward(self, zq, u, pred, extra=None):
        frames = pred if extra is None else torch.cat([pred, extra], 1)
        maps, f = [], frames
        for b in self.context:
            f = b(f)
            maps.append(f)
        h = torch.cat([self.latent(zq, u), maps.pop()], 1)
        for i, b in enumerate(self.blocks):
            h = torch.cat([b(h), maps.pop() if i + 1 < len(self.blocks) else frames], 1)
        return torch.sigmoid(self.out(h))


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


class PFrameNet(nn.Module):
    """One P-frame position: motion encoder, flow decoder, content encoder and the content decoders.

    decoders: name -> the extra frames its context encoder reads (jd: its own outputs of the
    earlier frames; else 0); 'mmse' must be one, the encoder side's reference. The networks are
    built in the order motion, flow, content, decoders (as both peers always built them), so a
    seed gives the same weights."""

    def __init__(self, motion_dims, content_dims, decoders):
        super().__init__()
        self.motion, self.flow, self.content = LatentEncoder(2, motion_dims), FlowDecoder(motion_dims), LatentEncoder(2, content_dims)
        self.dec = nn.ModuleDict({name: Decoder(content_dims, extra) for name, extra in decoders.items()})

    def encode(self, x, ref, um, uc, quantize):
        """The encoder side of one frame: x and its reference [B, 1, H, W], the dithers um, uc and a
        Quantizer -> (motion level - dither, content level - dither, the MMSE reconstruction)."""
        mq = quantize(self.motion(torch.cat([x, ref], 1)), um)
        pred = scale_space_warp(ref, self.flow(mq, um))
        cq = quantize(self.content(torch.cat([x, pred], 1)), uc)
        return mq, cq, self.dec['mmse'](cq, uc, pred)


class Quantizer:
    """The dithered quantizer on `levels` levels evenly spaced in [-1, 1]: levels[q(z + u)] - u.

    soft_sigma None: the hard quantizer alone, no gradient (eval under no_grad, codec_pframe.py);
    a number: the same hard forward with the soft quantizer's gradient, the slope of
    sum(c * softmax(-sigma |z + u - c|)) (training, train_pframe.py)."""

    def __init__(self, levels, soft_sigma=None):
        self.levels, self.soft_sigma = levels, soft_sigma
        self.centers = torch.linspace(-1, 1, levels)
        self.bin_width = 2 / (levels - 1)

    def hard(self, z, u):
        k = torch.floor((z.clamp(-1, 1) + u + 1) * ((self.levels - 1) / 2) + 0.5).clamp(0, self.levels - 1)
        return self.centers[k.long()] - u

    def dither(self, b, d):
        """A fresh uniform dither [b, d] over one bin."""
        return (torch.rand(b, d) - 0.5) * self.bin_width

    def __call__(self, z, u):
        return self.hard(z, u) if self.soft_sigma is None else SoftGradient.apply(z, u, self)


class SoftGradient(torch.autograd.Function):
    """Quantizer q's hard forward; backward: the slope of sum(c * softmax(-sigma |z + u - c|)), sigma = q.soft_sigma."""

    @staticmethod
    def forward(ctx, z, u, q):
        ctx.save_for_backward(z, u)
        ctx.q = q
        return q.hard(z, u)

    @staticmethod
    def backward(ctx, dy):
        z, u = ctx.saved_tensors
        centers, sigma = ctx.q.centers, ctx.q.soft_sigma
        diff = (z + u).unsqueeze(-1) - centers
        p = torch.softmax(-sigma * diff.abs(), -1)
        a = -sigma * torch.sign(diff)
        s = (p * centers).sum(-1)
        slope = (p * centers * a).sum(-1) - s * (p * a).sum(-1)
        return dy * slope, None, None
