"""A camera's region of interest through a real tritonserver: the optional ``ROI_POLYGON`` input
of ``integrator_<name>`` reaches the scorer.

The session's server (tiny random-weight networks: every verdict is "No Mine Detected") cannot
show a truck being picked from a photo. So: through ``integrator_<name>`` the served answers with
and without a region equal the in-process runner's for the same photo and region, and a region
that only the scorer checks (three points on one line) fails that request alone; and the served
``scorer_<name>``, given a two-truck synthetic scene's masks and a region around one truck,
judges that truck only (and refuses the bad region, naming the input).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from loadcheck import tensor_names as tn

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]

CORNER = [[0.0, 0.0], [40.0, 0.0], [40.0, 30.0], [0.0, 30.0]]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_roi_reaches_the_served_scorer(triton, scene_jpegs, protocol):
    from loadcheck.client import InspectionClient, RejectedInputError
    from loadcheck.features.roi import RoiError
    from loadcheck.pipeline.runner import PipelineRunner

    local = PipelineRunner.from_repository(
        triton.repository, tn.integrator_model_name(triton.integrator)
    )
    url = triton.http_url if protocol == "http" else triton.grpc_url
    jpeg = scene_jpegs[0]
    with InspectionClient(url, protocol=protocol) as client:
        for roi in (None, CORNER):
            served = client.inspect(jpeg, triton.integrator, roi=roi)
            expected = local.inspect(jpeg, roi=roi)
            assert served.score_result == expected.score_result
            assert served.review == expected.review
            assert served.trucks == expected.trucks
        line = [[0, 0], [10, 10], [20, 20]]
        with pytest.raises(RoiError, match="enclose no area"):  # refused before sending
            client.inspect(jpeg, triton.integrator, roi=line)
        # sent anyway, only the scorer checks it: that request fails (Triton's ensemble answers
        # its own message, not the scorer's: the direct scorer test below shows the scorer's)
        with pytest.raises(RejectedInputError):
            asyncio.run(_send_raw(url, protocol, triton.integrator, jpeg, line))
        # the server goes on answering
        again = client.inspect(jpeg, triton.integrator)
        assert again.score_result == local.inspect(jpeg).score_result


async def _send_raw(url: str, protocol: str, integrator: str, jpeg: bytes, roi: list) -> None:
    from loadcheck.client.transport import TritonTransport

    transport = TritonTransport(url, protocol=protocol)  # type: ignore[arg-type]
    try:
        await transport.infer(
            tn.integrator_model_name(integrator),
            jpeg,
            [tn.SCORE_RESULT],
            inputs={tn.ROI_POLYGON: np.asarray(roi, np.float32)},
        )
    finally:
        await transport.close()


def _two_trucks() -> tuple[dict[str, np.ndarray], list, list]:
    """Perfect segmentator outputs of a two-truck synthetic scene, and the two bed boxes."""
    from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID
    from loadcheck.synth.render import render_scene

    scene = render_scene(1, 5, truck_count=2, load_shape="level_full", occluder="none")
    masks, boxes, classes = [], [], []
    for truck in scene.trucks:
        for mask, cls in ((truck.bed_mask, BED_CLASS_ID), (truck.load_mask, LOAD_CLASS_ID)):
            ys, xs = np.nonzero(mask)
            masks.append(mask.astype(np.uint8))
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            classes.append(cls)
    feeds = {
        tn.BOXES_XYXY: np.asarray(boxes, np.float32),
        tn.CLASS_IDS: np.asarray(classes, np.int32),
        tn.SCORES: np.full(len(masks), 0.9, np.float32),
        tn.MASKS: np.stack(masks),
        tn.MASK_IOU: np.full(len(masks), 0.95, np.float32),
    }
    return feeds, [list(t.bed_xyxy) for t in scene.trucks], []


def _around(box: list) -> list[list[float]]:
    x1, y1, x2, y2 = box
    return [[x1 - 5, y1 - 5], [x2 + 5, y1 - 5], [x2 + 5, y2 + 5], [x1 - 5, y2 + 5]]


def test_the_served_scorer_judges_only_the_truck_inside_the_roi(triton):
    import json

    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    feeds, beds, _ = _two_trucks()
    model = tn.scorer_model_name(triton.integrator)
    client = httpclient.InferenceServerClient(triton.http_url)

    def judged(roi: list | None) -> list[list[float]]:
        tensors = dict(feeds)
        if roi is not None:
            tensors[tn.ROI_POLYGON] = np.asarray(roi, np.float32)
        inputs = []
        for name, value in tensors.items():
            dtype = {"float32": "FP32", "int32": "INT32", "uint8": "UINT8"}[value.dtype.name]
            tensor = httpclient.InferInput(name, list(value.shape), dtype)
            tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        result = client.infer(
            model, inputs, outputs=[httpclient.InferRequestedOutput(tn.TRUCKS_JSON)]
        )
        return [t["bed_xyxy"] for t in json.loads(result.as_numpy(tn.TRUCKS_JSON)[0])]

    try:
        everything = judged(None)
        assert len(everything) == 2  # both trucks are loaded and judged without a region
        for bed in beds:
            assert judged(_around(bed)) == [[round(c, 2) for c in bed]]
        assert judged([[900, 500], [959, 500], [959, 539], [900, 539]]) == []
        with pytest.raises(InferenceServerException, match=r"ROI_POLYGON.*enclose no area"):
            judged([[0, 0], [10, 10], [20, 20]])
    finally:
        client.close()
