"""PyTorch peer of bench/codec.ts: encode and decode frames/s of the GOP-3 model at 12 bits per
frame (preset pframe-12-12-12's shapes) and of the I-frame model alone, at batch 1 and 64, in
eval mode under torch.no_grad(). Weights are random: they do not change the work.

The networks are those of src/models/iframe.ts and src/models/pframe.ts (the P-frame ones from
bench/peers/pframe_net.py, shared with bench/peers/train_pframe.py, documented there layer by
layer), at rate 12:
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
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ left beside the scripts
from pframe_net import LATENT_GAIN, PFrameNet, Quantizer, scale_space_warp, size

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
torch.set_num_threads(threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.manual_seed(0)

T, BATCH = 3, 64
iwidths, idims = [16, 32, 64, 128], 12
motion_dims, content_dims, levels = 6, 6, 2
ibottom = size >> len(iwidths)
iflat = ibottom * ibottom * iwidths[-1]


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


# ---- P-frame (src/models/pframe.ts): bench/peers/pframe_net.py, as train_pframe.py.

# Eval: the hard quantizer alone (no gradient), for the I-frame and the P-frame latents.
quantize = Quantizer(levels)
dither = quantize.dither


def position(frame):
    """P-frame `frame` (1-based): encoder side and the three decoders; jd's context reads the earlier frames' outputs."""
    return PFrameNet(motion_dims, content_dims, {'mmse': 0, 'fmd': 0, 'jd': frame - 1})


ienc = IEncoder()
idec = nn.ModuleDict({'mmse': IDecoder(), 'fmd': IDecoder()})
positions = nn.ModuleList([position(2), position(3)])
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
        mq, cq, ref = p.encode(x, ref, um, uc, quantize)
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
