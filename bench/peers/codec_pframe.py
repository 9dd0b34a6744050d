"""PyTorch peer of bench/codec.ts: encode and decode frames/s of the GOP-3 model at 12 bits per
frame (preset pframe-12-12-12's shapes) and of the I-frame model alone, at batch 1 and 64, in
eval mode under torch.no_grad(). Weights are random: they do not change the work.

The networks are those of src/models/iframe.ts and src/models/pframe.ts (the P-frame ones copied
from bench/peers/train_pframe.py, which documents them layer by layer), at rate 12:
- I-frame (widths 16-32-64-128, 12 dimensions of 2 levels): 4x4 stride-2 convs 1-16-32-64-128
  with bias, BatchNorm and LeakyReLU 0.2, a dense layer 2048 -> 12, BatchNorm, tanh; the decoder
  reads (level, dither) [B, 24]: dense 24 -> 4x4x128, BatchNorm, LeakyReLU, 4x4 stride-2
  transposed convs 128-64-32-16 (BatchNorm, LeakyReLU), a transposed conv 16 -> 1, sigmoid.
  Decoders mmse and fmd (jd is fmd for one frame).
- P-frames 2 and 3 (widths 16-32-32-64, 5x5 kernels, a motion and a content latent of 6
  dimensions of 2 levels each): motion encoder, flow decoder, scale-space warp (F.grid_sample),
  content encoder; decoders mmse, fmd and jd (context encoder and U-Net content decoder; jd's
  reads its own outputs of the earlier frames as extra channels: 1 at frame 2, 2 at frame 3).
The loops are those of src/video/gop.ts: the encoder side runs the MMSE loop for its references;
a decoder rebuilds the MMSE references and, unless it is mmse, decodes each frame again with its
own networks. Decoding starts from ready messages (level - dither and the dither, [B, d]); no
bit unpacking, no container.

Prints one line about the setup, then, last, one JSON line: frames/s from median call times.
Usage: python3 codec_pframe.py [threads] [seconds]   (threads 1, seconds 1.5 unless given)
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
torch.set_num_threads(threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.manual_seed(0)

size, T, BATCH = 64, 3, 64
iwidths, idims = [16, 32, 64, 128], 12
widths, kernel = [16, 32, 32, 64], 5
context_width = widths[0]
motion_dims, content_dims, levels = 6, 6, 2
LATENT_GAIN, FLOW_INIT_SCALE = 6.0, 0.01
BLUR_SIGMA, BLUR_TAPS = 1.5, 11
bottom = size >> len(widths)
flat = bottom * bottom * widths[-1]
ibottom = size >> len(iwidths)
iflat = ibottom * ibottom * iwidths[-1]
pad = kernel // 2


def he(weight, fan_in):
    with torch.no_grad():
        weight.normal_(0, math.sqrt(2 / fan_in))
    return weight


# ---- I-frame (src/models/iframe.ts): 4x4 stride-2 layers with bias (PyTorch padding=1 is TF 'same' here).

class IEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        chans = [1] + iwidths
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Conv2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)) for a, b in zip(chans[:-1], chans[1:])])
        self.dense = nn.Linear(iflat, idims)
        self.bn = nn.BatchNorm1d(idims)
        with torch.no_grad():
            self.bn.weight.fill_(LATENT_GAIN)

    def forward(self, x):
        return torch.tanh(self.bn(self.dense(self.blocks(x).flatten(1))))


class IDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        rev = iwidths[::-1]
        self.dense = nn.Linear(2 * idims, iflat)
        self.bn = nn.BatchNorm1d(iflat)
        self.blocks = nn.Sequential(*[nn.Sequential(nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)) for a, b in zip(rev[:-1], rev[1:])])
        self.out = nn.ConvTranspose2d(iwidths[0], 1, 4, 2, 1)

    def forward(self, zq, u):
        h = F.leaky_relu(self.bn(self.dense(torch.cat([zq + u, u], 1))).view(-1, iwidths[-1], ibottom, ibottom), 0.2)
        return torch.sigmoid(self.out(self.blocks(h)))


# ---- P-frame (src/models/pframe.ts), as bench/peers/train_pframe.py.

def down(cin, cout):
    conv = nn.Conv2d(cin, cout, kernel, 2, pad, bias=False)
    he(conv.weight, kernel * kernel * cin)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


def up(cin, cout):
    conv = nn.ConvTranspose2d(cin, cout, kernel, 2, pad, output_padding=1, bias=False)
    he(conv.weight, kernel * kernel * cin)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class LatentEncoder(nn.Module):
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
    """Context encoder on cat(prediction, extra frames) and the U-Net content decoder."""

    def __init__(self, extra):
        super().__init__()
        n, cw, rev = len(widths), context_width, widths[::-1]
        self.context = nn.ModuleList([down(1 + extra if i == 0 else cw, cw) for i in range(n)])
        self.latent = LatentMap(content_dims)
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
base = (2 * torch.arange(size, dtype=torch.float32) + 1) / size - 1


def scale_space_warp(ref, field):
    r = (BLUR_TAPS - 1) // 2
    blurred = F.conv2d(F.conv2d(F.pad(ref, (r, r, r, r), mode='replicate'), taps_v), taps_h)
    volume = torch.stack([ref, blurred], 2)
    grid = torch.stack([base.view(1, 1, -1) + field[:, 0], base.view(1, -1, 1) + field[:, 1], field[:, 2] - 0.5], -1)
    return F.grid_sample(volume, grid.unsqueeze(1), mode='bilinear', padding_mode='border', align_corners=False).squeeze(2)


centers = torch.linspace(-1, 1, levels)
bin_width = 2 / (levels - 1)


def quantize(z, u):
    """The hard dithered quantizer: levels[q(z + u)] - u."""
    k = torch.floor((z.clamp(-1, 1) + u + 1) * ((levels - 1) / 2) + 0.5).clamp(0, levels - 1)
    return centers[k.long()] - u


def dither(b, d):
    return (torch.rand(b, d) - 0.5) * bin_width


class Position(nn.Module):
    """P-frame `frame` (1-based): encoder side and the three decoders."""

    def __init__(self, frame):
        super().__init__()
        self.motion, self.flow, self.content = LatentEncoder(2, motion_dims), FlowDecoder(), LatentEncoder(2, content_dims)
        self.dec = nn.ModuleDict({'mmse': Decoder(0), 'fmd': Decoder(0), 'jd': Decoder(frame - 1)})


ienc = IEncoder()
idec = nn.ModuleDict({'mmse': IDecoder(), 'fmd': IDecoder()})
positions = nn.ModuleList([Position(2), Position(3)])
model = nn.ModuleList([ienc, idec, positions]).eval()
DECODERS = ['mmse', 'fmd', 'jd']


def encode_gop(xs):
    """The encoder side over frames xs[t] [B, 1, H, W]: each frame's (zq, u) latents."""
    b = xs[0].shape[0]
    u = dither(b, idims)
    zq = quantize(ienc(xs[0]), u)
    ref = idec['mmse'](zq, u)
    sent = [[(zq, u)]]
    for p, x in zip(positions, xs[1:]):
        um, uc = dither(b, motion_dims), dither(b, content_dims)
        mq = quantize(p.motion(torch.cat([x, ref], 1)), um)
        pred = scale_space_warp(ref, p.flow(mq, um))
        cq = quantize(p.content(torch.cat([x, pred], 1)), uc)
        ref = p.dec['mmse'](cq, uc, pred)
        sent.append([(mq, um), (cq, uc)])
    return sent


def decode_pframes(name, msgs, ref, outs):
    """Decoder `name`'s loop over the P-frames from the MMSE reference of frame 1 and its own outputs so far."""
    for p, (motion, content) in zip(positions, msgs):
        pred = scale_space_warp(ref, p.flow(*motion))
        ref = p.dec['mmse'](*content, pred)
        outs.append(ref if name == 'mmse' else p.dec[name](*content, pred, torch.cat(outs, 1) if name == 'jd' else None))
    return outs


def decode_gop(name, msgs):
    zq, u = msgs[0][0]
    ref = idec['mmse'](zq, u)
    return decode_pframes(name, msgs[1:], ref, [ref if name == 'mmse' else idec['fmd'](zq, u)])


def median_s(call, min_calls):
    call()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fps(frames, call, min_calls):
    return round(frames / median_s(call, min_calls), 1)


params = sum(p.numel() for p in model.parameters())
print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s): GOP-3 at 12 bits per frame, {params} parameters (I-frame decoders mmse, fmd; P-frame decoders mmse, fmd, jd), eval mode, no_grad")

with torch.no_grad():
    frames = {b: [torch.rand(b, 1, size, size) for _ in range(T)] for b in (1, BATCH)}
    msgs = {b: encode_gop(frames[b]) for b in (1, BATCH)}
    # The MMSE reference of frame 1 and a decoder's own frame-1 output, for the P-frame-only loop.
    first = {name: (idec['mmse'](*msgs[1][0][0]), idec['mmse' if name == 'mmse' else 'fmd'](*msgs[1][0][0])) for name in DECODERS}
    gop = {
        'encode_fps_b1': fps(T, lambda: encode_gop(frames[1]), 20),
        'encode_fps_b64': fps(T * BATCH, lambda: encode_gop(frames[BATCH]), 3),
        'decode_fps_b1': {n: fps(T, lambda n=n: decode_gop(n, msgs[1]), 20) for n in DECODERS},
        'decode_fps_b64': {n: fps(T * BATCH, lambda n=n: decode_gop(n, msgs[BATCH]), 3) for n in DECODERS},
        'pframe_decode_fps_b1': {n: fps(T - 1, lambda n=n: decode_pframes(n, msgs[1][1:], first[n][0], [first[n][1]]), 20) for n in DECODERS},
    }
    izq = {b: msgs[b][0][0] for b in (1, BATCH)}
    iframe = {
        'encode_fps_b1': fps(1, lambda: quantize(ienc(frames[1][0]), izq[1][1]), 20),
        'decode_fps_b1': {n: fps(1, lambda n=n: idec['mmse' if n == 'mmse' else 'fmd'](*izq[1]), 20) for n in DECODERS},
        'decode_fps_b64': {n: fps(BATCH, lambda n=n: idec['mmse' if n == 'mmse' else 'fmd'](*izq[BATCH]), 3) for n in DECODERS},
    }
print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'params': params, 'gop': gop, 'iframe': iframe}))
