#!/usr/bin/python3
"""MADformer's image training step in PyTorch, for `deno task bench` to compare against.

The same shapes and the same work as lib/model/madformer.ts + the training loop's image step:
a patch-merging stem (stages 4, 2, 2 with 48, 96 channels, then the width), 64 image tokens
plus CLS, mask-token replacement of a random 25% of tokens, position and modality
embeddings, pre-norm encoder layers with separate q/k/v/o projections, MLP with the sigmoid
GELU x*sigmoid(1.702x), final layer norm; heads: reconstruction to 16*16*3 = 768 values per
token, per-patch and per-image logits; loss = masked MSE + two BCE terms; gradient clipping
by global norm 1 and AdamW. Batch preparation is outside the timed step, as in the bench.

Prints one JSON line: {"torch": version, "threads": n, "blas": [libraries], "step_ms_median": ms,
...}.
Needs PyTorch (Debian: apt-get install -y python3-torch).
"""
import argparse
import json
import math
import os
import statistics
import time

# torch runs its own intra-op threads; OpenBLAS threads on top of them oversubscribe the cores,
# which here made the step twice as slow and erratic (81 ms vs 120-380 ms). Best case for PyTorch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--stem", type=str, default="4,2,2")
    p.add_argument("--stem-channels", type=str, default="48,96")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=int, default=4)
    p.add_argument("--mask-ratio", type=float, default=0.25)
    p.add_argument("--stem-contrast", action="store_true",
                   help="the stem also reads each token patch contrast-normalised (6 channels)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def gelu(x):
    return x * torch.sigmoid(1.702 * x)


def patchify(x, f):
    """[B, H, W, C] -> [B, H/f, W/f, f*f*C], cells row-major like the TypeScript patchify."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // f, f, w // f, f * c).permute(0, 1, 3, 2, 4)
    return x.reshape(b, h // f, w // f, f * f * c)


def unpatchify(x, f, c):
    """The inverse of patchify: [B, H/f, W/f, f*f*C] -> [B, H, W, C]."""
    b, gh, gw, _ = x.shape
    x = x.reshape(b, gh, gw, f, f * c).permute(0, 1, 3, 2, 4)
    return x.reshape(b, gh * f, gw * f, c)


class Layer(nn.Module):
    def __init__(self, d, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, d * mlp_ratio), nn.Linear(d * mlp_ratio, d)

    def attention(self, x):
        b, n, d = x.shape
        dh = d // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.q(x)) / math.sqrt(dh), split(self.k(x)), split(self.v(x))
        w = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        return self.o((w @ v).transpose(1, 2).reshape(b, n, d))

    def forward(self, h):
        h = h + self.attention(self.ln1(h))
        return h + self.fc2(gelu(self.fc1(self.ln2(h))))


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.stem_factors = [int(s) for s in a.stem.split(",")]
        channels = [int(s) for s in a.stem_channels.split(",")] + [a.width]
        self.patch = math.prod(self.stem_factors)
        self.tokens = (a.image_size // self.patch) ** 2
        self.contrast = a.stem_contrast
        stem, c = [], 6 if a.stem_contrast else 3
        for f, out in zip(self.stem_factors, channels):
            stem.append(nn.Linear(f * f * c, out))
            c = out
        self.stem = nn.ModuleList(stem)
        d = a.width
        self.modality = nn.Parameter(torch.randn(2, d) * 0.02)
        self.position = nn.Parameter(torch.randn(self.tokens, d) * 0.02)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.mask_token = nn.Parameter(torch.randn(d) * 0.02)
        self.layers = nn.ModuleList(Layer(d, a.heads, a.mlp_ratio) for _ in range(a.layers))
        self.lnf = nn.LayerNorm(d, eps=1e-5)
        self.recon = nn.Linear(d, self.patch * self.patch * 3)
        self.patch_head, self.cls_head = nn.Linear(d, 1), nn.Linear(d, 1)

    def forward(self, images, mask):
        x = (images - 0.45) / 0.25
        if self.contrast:
            # As the TypeScript stem input: each token patch centred and scaled by its spread.
            b, h, w, _ = images.shape
            p = self.patch
            cells = patchify(images, p).reshape(b, h // p, w // p, p * p, 3)
            centred = cells - cells.mean(3, keepdim=True)
            std = centred.pow(2).mean((3, 4), keepdim=True).sqrt()
            local = (centred / (std + 0.05)).reshape(b, h // p, w // p, p * p * 3)
            x = torch.cat([x, unpatchify(local, p, 3)], 3)
        for i, (f, lin) in enumerate(zip(self.stem_factors, self.stem)):
            x = lin(patchify(x, f))
            if i < len(self.stem) - 1:
                x = gelu(x)
        b, d = x.shape[0], x.shape[-1]
        x = x.reshape(b, self.tokens, d)
        m = mask.unsqueeze(2)
        x = x * (1 - m) + m * self.mask_token
        x = x + self.position + self.modality[0]
        cls = (self.cls + self.modality[0]).expand(b, 1, d)
        h = torch.cat([cls, x], 1)
        for layer in self.layers:
            h = layer(h)
        h = self.lnf(h)
        tokens = h[:, 1:]
        return (self.recon(tokens), self.patch_head(tokens).squeeze(2),
                self.cls_head(h[:, 0]).squeeze(1))


def patch_targets(images, patch):
    b = images.shape[0]
    p = patchify(images, patch).reshape(b, -1, patch * patch * 3)
    mean = p.mean(-1, keepdim=True)
    var = p.var(-1, unbiased=False, keepdim=True)
    return (p - mean) / torch.sqrt(var + 1e-4)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and "ln" not in n]
    rest = [p for n, p in model.named_parameters() if not (n.endswith("weight") and "ln" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4},
                             {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    s, b, t = a.image_size, a.batch, model.tokens
    images = torch.rand(b, s, s, 3)
    target = patch_targets(images, model.patch)
    patch_labels = (torch.rand(b, t) < 0.1).float()
    image_labels = (torch.arange(b) % 2 == 0).float()
    bce = nn.BCEWithLogitsLoss()
    hide = round(a.mask_ratio * t)

    times = []
    for i in range(a.warmup + a.steps):
        mask = torch.zeros(b, t)
        mask.scatter_(1, torch.rand(b, t).argsort(1)[:, :hide], 1.0)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        recon, patch_logits, cls_logits = model(images, mask)
        err = ((recon - target) ** 2).mean(2)
        loss = (err * mask).sum() / (mask.sum() + 1e-6)
        loss = loss + bce(patch_logits, patch_labels) + bce(cls_logits, image_labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1000)
    config = {k: v for k, v in vars(a).items()}
    # Which BLAS torch's linear algebra loaded: the reference one is ~10x slower than OpenBLAS.
    with open("/proc/self/maps") as maps:
        blas = sorted({line.split()[-1] for line in maps if "blas" in line or "mkl" in line})
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
        "config": config,
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_ms_median": round(statistics.median(times), 2),
        "step_ms": [round(x, 2) for x in times],
    }))


if __name__ == "__main__":
    main()
