#!/usr/bin/env python3
"""Independent PyTorch definitions of our models, for the interop tests (Boost.Tests/Models/TorchInteropTests.cs).

usage: python3 scripts/torch_reference.py unet WEIGHTS INPUTS OUT [bench|paper|UNETCONFIG.json]
       python3 scripts/torch_reference.py unet-export WEIGHTS_OUT INPUTS OUT
       python3 scripts/torch_reference.py vae CONFIG.json WEIGHTS INPUTS OUT

`unet`: the guided-diffusion UNetModel of docs/unet-bench.md (the `bench` settings), written from the spec
with guided-diffusion's module names, so `load_state_dict(strict=True)` of a file Boost wrote checks every key and
shape; INPUTS holds x [N, 8, 32, 32] and t [N]; OUT gets y. A fifth argument picks another of Boost's UNet
configurations: `paper`, or a UNetConfig JSON file (scale-shift norm and multi-head attention as guided-diffusion has
them). `unet-export` goes the other way: PyTorch's own initialisation (seed 0) is saved to WEIGHTS_OUT for Boost to
load, with its output on INPUTS.
`vae`: diffusers' AutoencoderKL layout (encoder/decoder down_blocks, mid_block with one attention, quant convs) for
any `block_out_channels` / `layers_per_block` / `latent_channels` / `norm_num_groups`; INPUTS holds x; OUT gets the
posterior mean and the decoded mean.
safetensors files are read and written here by hand (8-byte header length, JSON header, little-endian float32):
no package beyond torch and numpy is needed.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------- safetensors

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "F16": np.float16}[info["dtype"]]
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype=dtype).astype(np.float32).reshape(info["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------------------- the bench UNet

def gn(c):
    return nn.GroupNorm(32, c, eps=1e-6)


class TimestepSequential(nn.Sequential):
    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class ResBlock(nn.Module):
    """scale_shift (ADM's use_scale_shift_norm): the embedding gives 2·cout numbers, h = GN(h)·(1 + scale) + shift."""

    def __init__(self, cin, cout, emb=256, scale_shift=False):
        super().__init__()
        self.scale_shift = scale_shift
        self.in_layers = nn.Sequential(gn(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, 2 * cout if scale_shift else cout))
        self.out_layers = nn.Sequential(gn(cout), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip_connection = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        e = self.emb_layers(emb)[:, :, None, None]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[1:](self.out_layers[0](h) * (1 + scale) + shift)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """guided-diffusion's AttentionBlock with QKVAttentionLegacy: per head, [q | k | v] channel groups of c / heads."""

    def __init__(self, c, heads=1):
        super().__init__()
        self.heads = heads
        self.norm = gn(c)
        self.qkv = nn.Conv1d(c, 3 * c, 1)
        self.proj_out = nn.Conv1d(c, c, 1)

    def forward(self, x):
        b, c, hgt, wid = x.shape
        xs = x.reshape(b, c, -1)
        ch = c // self.heads
        q, k, v = self.qkv(self.norm(xs)).reshape(b * self.heads, 3 * ch, -1).split(ch, dim=1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        w = torch.softmax(torch.einsum("bct,bcs->bts", q * scale, k * scale), dim=-1)
        a = torch.einsum("bts,bcs->bct", w, v).reshape(b, c, -1)
        return (xs + self.proj_out(a)).reshape(b, c, hgt, wid)


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.op = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class BenchUNet(nn.Module):
    """Defaults: the `bench` UNet (in 8, out 4, model channels 64, mult (1, 2, 2), 2 res blocks, attention at the 8×8
    level, 1 head). Other keywords give any Boost UNetConfig: `attn_levels` are level indices (ADM's
    attention_resolutions ds = 2^level), `head_channels` > 0 sets heads = channels / head_channels (else `heads`),
    `scale_shift` is use_scale_shift_norm; the time embedding has 4·ch features."""

    def __init__(self, cin=8, cout=4, ch=64, mult=(1, 2, 2), blocks=2, attn_levels=(2,), heads=1, head_channels=-1,
                 scale_shift=False):
        super().__init__()
        self.ch = ch
        emb = 4 * ch
        res = lambda a, b: ResBlock(a, b, emb, scale_shift)
        attn = lambda c: AttentionBlock(c, c // head_channels if head_channels > 0 else heads)
        self.time_embed = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([TimestepSequential(nn.Conv2d(cin, ch, 3, padding=1))])
        chans, c = [ch], ch
        for level, m in enumerate(mult):
            for _ in range(blocks):
                layers = [res(c, m * ch)]
                c = m * ch
                if level in attn_levels:
                    layers.append(attn(c))
                self.input_blocks.append(TimestepSequential(*layers))
                chans.append(c)
            if level != len(mult) - 1:
                self.input_blocks.append(TimestepSequential(Downsample(c)))
                chans.append(c)
        self.middle_block = TimestepSequential(res(c, c), attn(c), res(c, c))
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(blocks + 1):
                layers = [res(c + chans.pop(), m * ch)]
                c = m * ch
                if level in attn_levels:
                    layers.append(attn(c))
                if level and i == blocks:
                    layers.append(Upsample(c))
                self.output_blocks.append(TimestepSequential(*layers))
        self.out = nn.Sequential(gn(c), nn.SiLU(), nn.Conv2d(c, cout, 3, padding=1))

    def forward(self, x, t):
        half = self.ch // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        emb = self.time_embed(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))
        hs, h = [], x
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


# Boost.Models/UNet/UNetConfig.cs: `bench` (exactly 6,475,652 parameters, docs/unet-bench.md) and `paper` (128
# channels, mult (1, 2, 4, 8), 3 res blocks, attention at ds 8 and in the middle, heads of 64 channels, scale-shift
# norm). The counts are Boost's (Boost.Tests ParameterCountTests).
UNET_CONFIGS = {
    "bench": dict(),
    "paper": dict(ch=128, mult=(1, 2, 4, 8), blocks=3, attn_levels=(3,), head_channels=64, scale_shift=True),
}
UNET_PARAMS = {"bench": 6_475_652, "paper": 330_990_596}


def unet(config="bench"):
    """A UNet by name (`bench`, `paper`) or from a Boost UNetConfig JSON file (its snake_case keys)."""
    if config in UNET_CONFIGS:
        return BenchUNet(**UNET_CONFIGS[config])
    c = json.load(open(config))
    if c.get("norm_num_groups", 32) != 32 or c.get("norm_eps", 1e-6) != 1e-6 or c.get("dropout", 0) != 0:
        raise SystemExit(f"{config}: the reference has 32 norm groups, eps 1e-6 and no dropout")
    mult = tuple(c.get("channel_mult", (1, 2, 2)))
    return BenchUNet(c.get("in_channels", 8), c.get("out_channels", 4), c.get("model_channels", 64), mult,
                     c.get("num_res_blocks", 2), tuple(l for l in range(len(mult)) if 2 ** l in c.get("attention_resolutions", [4])),
                     c.get("num_heads", 1), c.get("num_head_channels", -1), c.get("use_scale_shift_norm", False))


# ---------------------------------------------------------------------------------------------------- AutoencoderKL

class VaeResnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if hasattr(self, "conv_shortcut") else x) + h


class VaeAttention(nn.Module):
    """diffusers' Attention as the VAE mid block uses it: one head over all channels, Linear q/k/v/out, residual."""

    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        b, c, hgt, wid = x.shape
        h = self.group_norm(x).reshape(b, c, -1).transpose(1, 2)
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1) @ v
        return x + self.to_out[0](a).transpose(1, 2).reshape(b, c, hgt, wid)


class VaeMid(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(c, c, groups), VaeResnet(c, c, groups)])
        self.attentions = nn.ModuleList([VaeAttention(c, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class VaeDown(nn.Module):
    def __init__(self, cin, cout, layers, groups, down):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        if down:
            self.downsamplers = nn.ModuleList([nn.Module()])
            self.downsamplers[0].conv = nn.Conv2d(cout, cout, 3, stride=2, padding=0)

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if hasattr(self, "downsamplers"):
            x = self.downsamplers[0].conv(F.pad(x, (0, 1, 0, 1)))  # diffusers pads right and bottom only
        return x


class VaeUp(nn.Module):
    def __init__(self, cin, cout, layers, groups, up):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(cin if i == 0 else cout, cout, groups) for i in range(layers + 1)])
        if up:
            self.upsamplers = nn.ModuleList([nn.Module()])
            self.upsamplers[0].conv = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if hasattr(self, "upsamplers"):
            x = self.upsamplers[0].conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        return x


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, layers, lat, g = cfg["block_out_channels"], cfg["layers_per_block"], cfg["latent_channels"], cfg["norm_num_groups"]
        cin, cout = cfg.get("in_channels", 3), cfg.get("out_channels", 3)
        enc = nn.Module()
        enc.conv_in = nn.Conv2d(cin, ch[0], 3, padding=1)
        enc.down_blocks = nn.ModuleList([VaeDown(ch[max(i - 1, 0)], ch[i], layers, g, i < len(ch) - 1) for i in range(len(ch))])
        enc.mid_block = VaeMid(ch[-1], g)
        enc.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        enc.conv_out = nn.Conv2d(ch[-1], 2 * lat, 3, padding=1)
        self.encoder = enc
        self.quant_conv = nn.Conv2d(2 * lat, 2 * lat, 1)
        self.post_quant_conv = nn.Conv2d(lat, lat, 1)
        rev = ch[::-1]
        dec = nn.Module()
        dec.conv_in = nn.Conv2d(lat, rev[0], 3, padding=1)
        dec.mid_block = VaeMid(rev[0], g)
        dec.up_blocks = nn.ModuleList([VaeUp(rev[max(i - 1, 0)], rev[i], layers, g, i < len(ch) - 1) for i in range(len(ch))])
        dec.conv_norm_out = nn.GroupNorm(g, rev[-1], eps=1e-6)
        dec.conv_out = nn.Conv2d(rev[-1], cout, 3, padding=1)
        self.decoder = dec

    def encode_mean(self, x):
        e = self.encoder
        h = e.conv_in(x)
        for b in e.down_blocks:
            h = b(h)
        h = e.conv_out(F.silu(e.conv_norm_out(e.mid_block(h))))
        return self.quant_conv(h).chunk(2, dim=1)[0]

    def decode(self, z):
        d = self.decoder
        h = d.mid_block(d.conv_in(self.post_quant_conv(z)))
        for b in d.up_blocks:
            h = b(h)
        return d.conv_out(F.silu(d.conv_norm_out(h)))


# ---------------------------------------------------------------------------------------------------- main

def main(argv):
    torch.set_num_threads(2)
    if argv[0] == "unet":
        weights, inputs, out = argv[1:4]
        model = unet(argv[4] if len(argv) > 4 else "bench")
        model.load_state_dict(read_safetensors(weights), strict=True)
        io = read_safetensors(inputs)
        with torch.no_grad():
            write_safetensors(out, {"y": model(io["x"], io["t"])})
    elif argv[0] == "unet-export":
        weights, inputs, out = argv[1:4]
        torch.manual_seed(0)
        model = BenchUNet()
        write_safetensors(weights, model.state_dict())
        io = read_safetensors(inputs)
        with torch.no_grad():
            write_safetensors(out, {"y": model(io["x"], io["t"])})
    elif argv[0] == "vae":
        config, weights, inputs, out = argv[1:5]
        model = AutoencoderKL(json.load(open(config)))
        model.load_state_dict(read_safetensors(weights), strict=True)
        x = read_safetensors(inputs)["x"]
        with torch.no_grad():
            mean = model.encode_mean(x)
            write_safetensors(out, {"mean": mean, "decoded": model.decode(mean)})
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
