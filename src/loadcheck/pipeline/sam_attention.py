"""SAM's image-encoder attention through PyTorch's fused ``scaled_dot_product_attention``.

segment-anything's ``Attention.forward`` materialises ``q @ k^T``, adds the decomposed relative
position terms, and runs an eager softmax. :func:`use_fused_attention` swaps the ``forward`` of
every such instance inside a module (segment-anything itself is not edited) for
:func:`fused_attention_forward`: the same relative-position terms are passed to
``torch.nn.functional.scaled_dot_product_attention`` as a float ``attn_mask`` (which it adds to
the scaled ``q @ k^T`` before the softmax, exactly where SAM adds them), so PyTorch picks its
memory-efficient fused kernel on a GPU. :func:`use_eager_attention` puts the original back.
The two are parity-tested on CPU in ``tests/unit/pipeline/test_sam_attention.py``.
"""

from __future__ import annotations

import logging
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

LOGGER = logging.getLogger(__name__)


def relative_position_bias(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, hw: tuple[int, int]
) -> torch.Tensor:
    """SAM's decomposed relative-position term as an additive mask.

    Args:
        q: queries, float [B*heads, H*W, C] (unscaled, as SAM uses them for this term).
        rel_pos_h / rel_pos_w: the block's tables, [2H-1, C] / [2W-1, C].
        hw: the token grid (H, W).

    Returns:
        float [B*heads, H*W, H*W]: ``rel_h[q, kh] + rel_w[q, kw]`` for key ``(kh, kw)``.
    """
    import torch
    from segment_anything.modeling.image_encoder import get_rel_pos

    h, w = hw
    rh = get_rel_pos(h, h, rel_pos_h)  # [H, H, C]
    rw = get_rel_pos(w, w, rel_pos_w)  # [W, W, C]
    n, _, dim = q.shape
    r_q = q.reshape(n, h, w, dim)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh.to(q.dtype))
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw.to(q.dtype))
    return (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(n, h * w, h * w)


def fused_attention_forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    """``Attention.forward`` of segment-anything with fused attention (same inputs, outputs).

    ``x``: float [B, H, W, dim] -> float [B, H, W, dim].
    """
    import torch.nn.functional as F

    b, h, w, _ = x.shape
    heads = self.num_heads
    qkv = self.qkv(x).reshape(b, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # each [B, heads, H*W, C]
    mask = None
    if self.use_rel_pos:
        flat_q = q.reshape(b * heads, h * w, -1)
        bias = relative_position_bias(flat_q, self.rel_pos_h, self.rel_pos_w, (h, w))
        mask = bias.view(b, heads, h * w, h * w)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
    out = out.view(b, heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return self.proj(out)


def _attention_blocks(module: torch.nn.Module) -> list[torch.nn.Module]:
    from segment_anything.modeling.image_encoder import Attention

    return [m for m in module.modules() if isinstance(m, Attention)]


def use_fused_attention(module: torch.nn.Module) -> int:
    """Swap the ``forward`` of every segment-anything image-encoder ``Attention`` inside
    ``module`` for :func:`fused_attention_forward`; returns how many were swapped."""
    blocks = _attention_blocks(module)
    for block in blocks:
        block.forward = types.MethodType(fused_attention_forward, block)
    LOGGER.debug("fused attention in %d SAM encoder blocks", len(blocks))
    return len(blocks)


def use_eager_attention(module: torch.nn.Module) -> int:
    """Undo :func:`use_fused_attention`: the blocks run segment-anything's own ``forward``."""
    blocks = _attention_blocks(module)
    for block in blocks:
        block.__dict__.pop("forward", None)
    return len(blocks)
