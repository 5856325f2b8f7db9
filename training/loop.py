# Copyright 2026 xmodal_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The training loop every method shares: one CPU, one GPU, or several GPUs under torchrun.

DDP is set up from RANK / WORLD_SIZE / LOCAL_RANK (torchrun sets them) and each rank trains on its
DistributedSampler shard; nothing here launches processes. On CUDA the forward pass runs under
autocast, bf16 where the GPU has it, else fp16 with a GradScaler. Batches come from
``dataset.batch(indices)``, so any object with ``__len__`` and that method can be trained on (the
bag dataset, or the arrays of scripts/gpu_check.py on a machine without rosbags).
"""
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm


class Context:
    """Where this process trains: device, autocast dtype, DDP rank and world size."""

    def __init__(self, device='auto'):
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device == 'cuda':
            device = f'cuda:{local_rank}'
        self.device = torch.device(device)
        if self.device.type == 'cuda':
            torch.cuda.set_device(self.device)
            self.amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.amp = None
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group('nccl' if self.device.type == 'cuda' else 'gloo')

    @property
    def main(self):
        return self.rank == 0

    def describe(self):
        amp = f', autocast {str(self.amp).split(".")[-1]}' if self.amp else ''
        return f'{self.device}{amp}' + (f', DDP x{self.world}' if self.world > 1 else '')


def random_shift(x, pad):
    """
    Translate each image of (B, C, H, W) by up to ``pad`` pixels (edges replicated).

    The DrQ-style augmentation that keeps image encoders from memorising where things sit in an
    episode instead of what they look like.
    """
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode='replicate')
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, b, 1), device=x.device))
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    return padded[torch.arange(b, device=x.device)[:, None, None, None],
                  torch.arange(c, device=x.device)[None, :, None, None], rows, cols]


def lr_factor(step, total, warmup):
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def fit(model, ds, mcfg, ctx, seed, desc, pseudo=None, recorder=None, record_from=None,
        shift_px=None, transform=None):
    """
    Train ``model`` in place for ``mcfg.epochs``; returns one dict of mean loss terms per epoch.

    ``pseudo``: (probs (N, C), targets (N, R)) added to each batch by dataset index (UMI).
    ``recorder``: collects the per-sensor predictions of epochs >= ``record_from`` (stage 1).
    ``shift_px``: sensor -> pixels of random translation applied to its images while training.
    ``transform``: ``transform(batch, indices, sensors)`` -> batch, applied to each batch on the
    CPU before it moves to the device (UMI's sensor-subset dropout, which sets the pseudo-labels).
    """
    model.to(ctx.device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=mcfg.lr, weight_decay=mcfg.weight_decay)
    net = (DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.index
                                   is not None else None, find_unused_parameters=True)
           if ctx.world > 1 else model)
    sampler = DistributedSampler(ds, num_replicas=ctx.world, rank=ctx.rank, shuffle=True,
                                 seed=seed)
    steps_per_epoch = math.ceil(len(sampler) / mcfg.batch_size)
    total = mcfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, mcfg.warmup_steps))
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.amp == torch.float16)
    curves = []
    for epoch in range(mcfg.epochs):
        sampler.set_epoch(epoch)
        order = np.fromiter(sampler, dtype=np.int64)
        sums, counts, t0 = {}, {}, time.time()
        bar = tqdm(range(0, len(order), mcfg.batch_size), desc=f'{desc} {epoch + 1}/{mcfg.epochs}',
                   disable=not ctx.main, leave=False, file=sys.stderr)
        for start in bar:
            idx = np.sort(order[start:start + mcfg.batch_size])   # sorted: sequential mmap reads
            batch = ds.batch(idx, sensors=model.sensor_names)
            if pseudo is not None:
                batch['pseudo_probs'], batch['pseudo_target'] = pseudo[0][idx], pseudo[1][idx]
            if transform is not None:
                batch = transform(batch, idx, model.sensor_names)
            batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()}
            for s, pad in (shift_px or {}).items():
                batch[s] = random_shift(batch[s], pad)
            with torch.autocast(ctx.device.type, dtype=ctx.amp, enabled=ctx.amp is not None):
                terms = net(batch)
            opt.zero_grad(set_to_none=True)
            scaler.scale(terms['loss']).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            if recorder is not None and epoch >= record_from:
                for s, (rows, logits, reg) in terms['outputs'].items():
                    recorder.update(batch['index'][rows], s, logits, reg)
            for k, v in terms.items():
                if k != 'outputs':
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
                    counts[k] = counts.get(k, 0) + len(idx)
            bar.set_postfix(loss=f'{terms["loss"].item():.3f}')
        if ctx.world > 1:       # every rank's sums; a term may be missing on some rank
            parts = [None] * ctx.world
            dist.all_gather_object(parts, (sums, counts))
            keys = sorted(set().union(*(p[0] for p in parts)))
            sums = {k: sum(p[0].get(k, 0.0) for p in parts) for k in keys}
            counts = {k: sum(p[1].get(k, 0) for p in parts) for k in keys}
        epoch_terms = {k: sums[k] / counts[k] for k in sums}
        curves.append(dict(epoch=epoch + 1, lr=sched.get_last_lr()[0],
                           seconds=round(time.time() - t0, 2), **epoch_terms))
        if ctx.main:
            print(f'{desc} epoch {epoch + 1}/{mcfg.epochs}: ' + ' '.join(
                f'{k}={v:.4f}' for k, v in epoch_terms.items()) + f' ({curves[-1]["seconds"]} s)',
                file=sys.stderr)
    model.cpu().eval()
    return curves
