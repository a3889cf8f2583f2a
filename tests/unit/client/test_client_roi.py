"""``inspect(..., roi=)``: the region of interest is checked, then sent as ``ROI_POLYGON`` only
when given; a server whose model lacks the input is named."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from client_fakes import FakeTransport, jpeg_bytes

from loadcheck import tensor_names as tn
from loadcheck.client import AsyncInspectionClient
from loadcheck.client.errors import ServerError
from loadcheck.client.transport import TritonTransport
from loadcheck.features.roi import RoiError


class InputsTransport(FakeTransport):
    """Also takes optional inputs, and keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[Mapping[str, np.ndarray] | None] = []

    async def infer(  # type: ignore[override]
        self,
        model: str,
        image: bytes,
        outputs: Sequence[str],
        *,
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> Mapping[str, np.ndarray | None]:
        self.inputs.append(inputs)
        return await super().infer(model, image, outputs)


def test_the_roi_is_sent_only_when_given():
    transport = InputsTransport()
    client = AsyncInspectionClient(transport=transport)
    asyncio.run(client.inspect(jpeg_bytes(), "site_a"))
    asyncio.run(client.inspect(jpeg_bytes(), "site_a", roi=[[1, 2], [30, 2], [30, 40]]))
    assert transport.inputs[0] is None
    sent = transport.inputs[1]
    assert sent is not None and list(sent) == [tn.ROI_POLYGON]
    assert sent[tn.ROI_POLYGON].dtype == np.float32
    assert sent[tn.ROI_POLYGON].tolist() == [[1.0, 2.0], [30.0, 2.0], [30.0, 40.0]]


def test_a_transport_without_optional_inputs_still_works_without_a_roi():
    transport = FakeTransport()  # its infer takes no inputs= keyword
    result = asyncio.run(AsyncInspectionClient(transport=transport).inspect(jpeg_bytes(), "site_a"))
    assert result.score_result is not None and len(transport.calls) == 1


def test_a_bad_roi_is_refused_before_anything_is_sent():
    transport = InputsTransport()
    client = AsyncInspectionClient(transport=transport)
    with pytest.raises(RoiError, match="enclose no area"):
        asyncio.run(client.inspect(jpeg_bytes(), "site_a", roi=[[0, 0], [5, 5], [9, 9]]))
    assert transport.calls == []


def test_a_model_without_the_input_is_named():
    transport = TritonTransport("127.0.0.1:1")
    model = tn.integrator_model_name("site_a")
    transport._client = object()  # never reached: the check comes first
    transport._input_shapes[model] = [1]
    transport._input_names[model] = frozenset({tn.IMAGE_BYTES})
    roi = np.zeros((3, 2), np.float32)
    with pytest.raises(ServerError, match=r"takes no input 'ROI_POLYGON'.*rebuild"):
        asyncio.run(transport.infer(model, b"x", [tn.SCORE_RESULT], inputs={tn.ROI_POLYGON: roi}))
