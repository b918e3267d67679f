"""On-device batch augmentation: random crop with 4-pixel zero padding and horizontal flip (the Chapter 3
protocol of Uma et al.), done for a whole batch with tensor indexing instead of per-image Python transforms.

The random part (offsets and mirror coins) is separate from the pixel work (:func:`crop_flip_at`), so a training
loop can draw a whole epoch's offsets at once (:func:`thesis_lib.training.loop.epoch_draws`) and a captured CUDA
graph can replay the pixel work with nothing drawn inside it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD = 4


def crop_flip_at(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
                 pad: int = PAD) -> torch.Tensor:
    """``x``: (N, C, H, W); image i is cropped at offset (``dy[i]``, ``dx[i]``) in [0, 2*pad] of its zero-padded
    copy and mirrored where ``flip[i]`` is true."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]   # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]   # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = padded[batch, chan, rows, cols]
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = PAD) -> torch.Tensor:
    """``x``: (N, C, H, W). Each image gets its own crop offset in [0, 2*pad] and a coin-flip mirror."""
    n = x.shape[0]
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
    flip = torch.rand(n, device=x.device, generator=generator) < 0.5
    return crop_flip_at(x, dy, dx, flip, pad)
