"""``sam`` (encoder + decoder in one step) batches the images of several requests."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck import tensor_names as tn
from loadcheck.pipeline.tensors import spec

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch
SIDE = 256
INPUTS = (
    spec(tn.SAM_ENCODER_INPUT, "uint8", -1, SIDE, SIDE, 3),
    spec(tn.SAM_DECODER_BOXES, "float32", -1, 4),
    spec(tn.SAM_DECODER_POINT_COORDS, "float32", -1, 1, 2),
    spec(tn.SAM_DECODER_POINT_LABELS, "float32", -1, 1),
)
OUTPUTS = (
    spec(tn.SAM_LOW_RES_MASKS, "float32", -1, 1, SIDE // 4, SIDE // 4),
    spec(tn.SAM_IOU_PREDICTIONS, "float32", -1, 1),
)


@pytest.fixture(scope="module")
def step(tmp_path_factory: pytest.TempPathFactory):
    from loadcheck.export.sam_models import build_sam
    from loadcheck.pipeline.step import StepContext
    from loadcheck.pipeline.torch_networks import TorchNetworkSettings
    from loadcheck.pipeline.torch_sam import TorchSamStep

    folder = tmp_path_factory.mktemp("sam")
    torch.manual_seed(0)
    torch.save(build_sam("vit_tiny", SIDE).state_dict(), folder / "sam.pth")
    settings = TorchNetworkSettings(tn.SAM_MODEL, "vit_tiny", SIDE, "sam.pth")
    context = StepContext(tn.SAM_MODEL, folder, "cpu", INPUTS, OUTPUTS)
    loaded = TorchSamStep.load(settings, context)
    loaded.folder = folder
    return loaded


def _request(seed: int, boxes: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, SIDE / 2, (boxes, 2)).astype(np.float32)
    return {
        tn.SAM_ENCODER_INPUT: rng.integers(0, 256, (1, SIDE, SIDE, 3), dtype=np.uint8),
        tn.SAM_DECODER_BOXES: np.concatenate([xy, xy + SIDE / 3], axis=1),
        tn.SAM_DECODER_POINT_COORDS: np.zeros((boxes, 1, 2), np.float32),
        tn.SAM_DECODER_POINT_LABELS: -np.ones((boxes, 1), np.float32),
    }


def test_a_batch_of_requests_gives_each_requests_own_masks(step) -> None:
    requests = [_request(0, 3), _request(1, 0), _request(2, 1)]
    batched = step.run_batch(requests)
    for request, got in zip(requests, batched, strict=True):
        alone = step(request)
        k = len(request[tn.SAM_DECODER_BOXES])
        assert got[tn.SAM_LOW_RES_MASKS].shape == (k, 1, SIDE // 4, SIDE // 4)
        np.testing.assert_allclose(
            got[tn.SAM_LOW_RES_MASKS], alone[tn.SAM_LOW_RES_MASKS], atol=1e-4
        )
        np.testing.assert_allclose(
            got[tn.SAM_IOU_PREDICTIONS], alone[tn.SAM_IOU_PREDICTIONS], atol=1e-5
        )


def test_the_fused_step_gives_what_the_separate_encoder_and_decoder_give(step) -> None:
    from dataclasses import replace

    from loadcheck.pipeline.torch_networks import load_network

    folder = step.folder
    encoder = load_network(replace(step.settings, network=tn.SAM_ENCODER_MODEL), folder)
    decoder = load_network(replace(step.settings, network=tn.SAM_DECODER_MODEL), folder)
    request = _request(3, 2)
    prompts = (tn.SAM_DECODER_BOXES, tn.SAM_DECODER_POINT_COORDS, tn.SAM_DECODER_POINT_LABELS)
    with torch.inference_mode():
        embeddings = encoder(torch.from_numpy(request[tn.SAM_ENCODER_INPUT]))
        masks, iou = decoder(embeddings, *(torch.from_numpy(request[n]) for n in prompts))
    got = step(request)
    np.testing.assert_allclose(got[tn.SAM_LOW_RES_MASKS], masks.numpy(), atol=1e-4)
    np.testing.assert_allclose(got[tn.SAM_IOU_PREDICTIONS], iou.numpy(), atol=1e-5)


def test_more_than_one_image_in_a_request_is_refused(step) -> None:
    from loadcheck.pipeline.step import StepInputError

    request = _request(4, 1)
    request[tn.SAM_ENCODER_INPUT] = np.repeat(request[tn.SAM_ENCODER_INPUT], 2, axis=0)
    with pytest.raises(StepInputError, match="one image per request"):
        step(request)
