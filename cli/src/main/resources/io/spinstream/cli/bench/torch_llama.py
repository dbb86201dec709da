"""PyTorch eager reference for `spin bench model`: the same Llama architecture and config as the
project's DJL model, driven over stdin so that the Java side can alternate runs with it.

Commands (one per line): `train N` -> {"seconds": s} for N optimiser steps; `gen [R]` -> {"seconds": s,
"tokens": n} for R rows generated together (default: --batch); `gemm N` -> {"gflops": g} for an NxNxN
float32 matmul; `quit`.
Run by /usr/bin/python3 (Debian python3-torch) with OPENBLAS_NUM_THREADS set by the caller.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads, self.kv, self.hd = a.heads, a.kv_heads, a.hidden // a.heads
        self.input_layernorm = RMSNorm(a.hidden, 1e-5)
        self.q_proj = nn.Linear(a.hidden, a.hidden, bias=False)
        self.k_proj = nn.Linear(a.hidden, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(a.hidden, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(a.hidden, a.hidden, bias=False)
        self.post_attention_layernorm = RMSNorm(a.hidden, 1e-5)
        self.gate_proj = nn.Linear(a.hidden, a.inter, bias=False)
        self.up_proj = nn.Linear(a.hidden, a.inter, bias=False)
        self.down_proj = nn.Linear(a.inter, a.hidden, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            cache[0], cache[1] = k, v
        if self.kv != self.heads:
            k = k.repeat_interleave(self.heads // self.kv, dim=1)
            v = v.repeat_interleave(self.heads // self.kv, dim=1)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if mask is not None:
            s = s + mask
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(o)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList([Layer(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, 1e-5)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False)
        hd = a.hidden // a.heads
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(a.max_pos).float(), inv)
        emb = torch.cat([ang, ang], dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, start=0, caches=None):
        t = ids.shape[1]
        x = self.embed_tokens(ids)
        cos = self.cos[start:start + t][None, None]
        sin = self.sin[start:start + t][None, None]
        mask = None
        if t > 1:
            mask = torch.full((t, start + t), float("-inf")).triu(start + 1)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        return self.lm_head(self.norm(x))


def blas_in_use():
    """The BLAS libraries mapped into this process, and which kind they are (Debian switches libblas.so.3 by
    alternatives: without libopenblas0-pthread torch runs on the reference BLAS, about 25 times slower)."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            path = parts[-1] if len(parts) >= 6 else ""
            name = path.rsplit("/", 1)[-1].lower()
            if "blas" in name or "mkl" in name or "blis" in name:
                libs.add(path)
    joined = " ".join(sorted(libs)).lower()
    if "openblas" in joined:
        kind = "openblas"
    elif "mkl" in joined:
        kind = "mkl"
    elif "blis" in joined:
        kind = "blis"
    elif libs:
        kind = "reference"
    else:
        kind = "unknown"
    return kind, sorted(libs)


def main():
    p = argparse.ArgumentParser()
    for name in ["vocab", "hidden", "inter", "layers", "heads", "kv-heads", "seq", "batch", "threads",
                 "gen-prompt", "gen-new", "max-pos"]:
        p.add_argument("--" + name, type=int, required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Llama(a)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    tokens = torch.randint(3, a.vocab, (a.batch, a.seq + 1))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    def train_step():
        opt.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), targets.reshape(-1))
        loss.backward()
        opt.step()

    @torch.no_grad()
    def generate(rows):
        caches = [[None, None] for _ in range(a.layers)]
        ids = torch.randint(3, a.vocab, (rows, a.gen_prompt))
        logits = model(ids, 0, caches)
        pos = a.gen_prompt
        made = 0
        for _ in range(a.gen_new):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            made += nxt.shape[0]
            logits = model(nxt, pos, caches)
            pos += 1
        return made

    train_step()  # warm-up
    generate(a.batch)
    warmed = {a.batch}
    blas, blas_libs = blas_in_use()
    import os
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "params": sum(p.numel() for p in model.parameters()), "blas": blas, "blas_libraries": blas_libs,
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "")}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "train":
            n = int(cmd[1])
            t0 = time.perf_counter()
            for _ in range(n):
                train_step()
            print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
        elif cmd[0] == "gen":
            rows = int(cmd[1]) if len(cmd) > 1 else a.batch
            if rows not in warmed:  # a first call at a batch size warms its allocations, as the Java side's warm-up does
                generate(rows)
                warmed.add(rows)
            t0 = time.perf_counter()
            made = generate(rows)
            print(json.dumps({"seconds": time.perf_counter() - t0, "tokens": made}), flush=True)
        elif cmd[0] == "gemm":
            n = int(cmd[1])
            x, y = torch.randn(n, n), torch.randn(n, n)
            x @ y
            reps = 5
            t0 = time.perf_counter()
            for _ in range(reps):
                x @ y
            dt = time.perf_counter() - t0
            print(json.dumps({"gflops": 2.0 * n ** 3 * reps / dt / 1e9}), flush=True)


if __name__ == "__main__":
    main()
