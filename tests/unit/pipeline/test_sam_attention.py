"""SAM's encoder with fused attention gives the original encoder's embeddings."""

from __future__ import annotations

from functools import partial

import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def _vit_b_like(img_size: int) -> torch.nn.Module:
    """vit_b's width, heads and window (768, 12, 14) with two blocks, one of them global."""
    from segment_anything.modeling import ImageEncoderViT

    return ImageEncoderViT(
        depth=2,
        embed_dim=768,
        img_size=img_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=12,
        patch_size=16,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=(1,),
        window_size=14,
        out_chans=256,
    ).eval()


def _vit_tiny(img_size: int) -> torch.nn.Module:
    from loadcheck.export.sam_models import build_sam

    return build_sam("vit_tiny", img_size).image_encoder.eval()


def _randomise_relative_positions(encoder: torch.nn.Module) -> int:
    """Non-zero relative-position tables (SAM initialises them to zero, which would hide a
    wrong bias), scaled like trained ones relative to the queries."""
    tables = 0
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "rel_pos" in name:
                param.normal_(0.0, 0.5)
                tables += 1
    return tables


@pytest.mark.parametrize(
    ("make", "img_size"),
    [(_vit_tiny, 256), (_vit_tiny, 192), (_vit_b_like, 256), (_vit_b_like, 224)],
    ids=["vit_tiny-256", "vit_tiny-192-padded", "vit_b_like-256-padded", "vit_b_like-224"],
)
def test_fused_attention_gives_the_original_encoders_embeddings(make, img_size: int) -> None:
    from loadcheck.pipeline.sam_attention import use_eager_attention, use_fused_attention

    torch.manual_seed(0)
    encoder = make(img_size)
    assert _randomise_relative_positions(encoder) >= 2
    image = torch.randn(2, 3, img_size, img_size)
    with torch.inference_mode():
        expected = encoder(image)
        swapped = use_fused_attention(encoder)
        fused = encoder(image)
        assert use_eager_attention(encoder) == swapped
        again = encoder(image)
    assert swapped == len(encoder.blocks)
    scale = expected.abs().max().item()
    assert scale > 0.1
    assert (fused - expected).abs().max().item() < 1e-4 * scale + 1e-5
    assert torch.equal(again, expected)


def test_the_relative_position_bias_changes_the_output() -> None:
    """The parity test would pass with the bias left out if the tables had no effect."""
    from loadcheck.pipeline import sam_attention

    torch.manual_seed(1)
    encoder = _vit_tiny(256)
    _randomise_relative_positions(encoder)
    image = torch.randn(1, 3, 256, 256)
    with torch.inference_mode():
        expected = encoder(image)
        for block in encoder.blocks:
            block.attn.use_rel_pos = False
        sam_attention.use_fused_attention(encoder)
        without = encoder(image)
    assert (without - expected).abs().max().item() > 1e-2 * expected.abs().max().item()
