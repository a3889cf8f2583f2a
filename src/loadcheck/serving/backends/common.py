"""Helpers shared by the Python-backend adapters (tensor I/O and per-request error responses)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from loadcheck.serving.config import read_parameters

LOGGER = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request's input is unacceptable; ``str()`` names the input and the reason."""


def parse_args(args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON model config and its string parameters from ``initialize``'s ``args``."""
    model_config = json.loads(args["model_config"])
    return model_config, read_parameters(model_config)


def get_input(
    request: Any, name: str, dtype: np.dtype | type | None = None, ndim: int | None = None
) -> np.ndarray:
    """The input tensor ``name`` as numpy, checked for dtype and rank."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise RequestError(f"input {name!r}: missing")
    array = tensor.as_numpy()
    if dtype is not None and array.dtype != np.dtype(dtype):
        raise RequestError(f"input {name!r}: expected dtype {np.dtype(dtype)}, got {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise RequestError(f"input {name!r}: expected {ndim} dimensions, got shape {array.shape}")
    return array


def get_bytes(request: Any, name: str) -> bytes:
    """The single element of a BYTES ``[1]`` (or ``[1, 1]``) input."""
    array = get_input(request, name)
    if array.dtype != np.object_:
        raise RequestError(f"input {name!r}: expected BYTES, got {array.dtype}")
    if array.size != 1:
        raise RequestError(f"input {name!r}: expected exactly one element, got shape {array.shape}")
    value = array.reshape(-1)[0]
    return bytes(value) if not isinstance(value, str) else value.encode()


def error_response(message: str) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[], error=pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
    )


def make_response(outputs: Mapping[str, np.ndarray]) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()]
    )


def respond_each(
    requests: Sequence[Any], handle: Callable[[Any], Mapping[str, np.ndarray]], model: str
) -> list[Any]:
    """One response per request; a bad request gets an error response, the others still run."""
    responses = []
    for request in requests:
        try:
            responses.append(make_response(handle(request)))
        except (RequestError, ValueError) as exc:
            responses.append(error_response(f"{model}: {exc}"))
        except Exception as exc:
            LOGGER.exception("%s: request failed", model)
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[],
                    error=pb_utils.TritonError(f"{model}: internal error: {exc}"),
                )
            )
    return responses
