"""The one ``TritonPythonModel``: every Python-backend model of the repository runs through it.

Each generated ``model.py`` is one import of this class. ``initialize`` builds the model's step
from its config (:func:`loadcheck.pipeline.registry.step_from_config`: the ``step`` parameter
names the step class, the other parameters are its settings) once per instance; ``execute``
unpacks each request's tensors by the step's declared inputs, runs the step (a network runs the
requests of one call as one batch), and packs the declared outputs. A request whose input is
bad gets an ``INVALID_ARG`` error naming the input and the reason; the other requests of the
call still get their answers, and the model keeps serving. A scorer's answered requests are
also counted in Triton's metrics (:mod:`loadcheck.serving.verdict_metrics`); a failure there
is logged and never fails the request.

This module imports ``triton_python_backend_utils``, which exists only inside the Python-backend
stub: import it from Triton (or a test's stand-in), never from library code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from loadcheck.pipeline.registry import step_from_config
from loadcheck.pipeline.step import Arrays, Step, StepInputError
from loadcheck.serving.verdict_metrics import ScoredPhoto, ScorerMetrics, scorer_metrics

LOGGER = logging.getLogger(__name__)
#: Errors that are the request's fault (answered with INVALID_ARG).
INPUT_ERRORS = (StepInputError,)


def instance_device(args: Mapping[str, Any]) -> str:
    """``"cuda:N"`` for a ``KIND_GPU`` instance, else ``"cpu"``."""
    if str(args.get("model_instance_kind", "CPU")).upper() == "GPU":
        return f"cuda:{int(args.get('model_instance_device_id', 0) or 0)}"
    return "cpu"


class TritonPythonModel:
    """Triton's Python-backend entry points around one :class:`~loadcheck.pipeline.step.Step`."""

    step: Step
    metrics: ScorerMetrics | None = None

    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        version_dir = Path(args["model_repository"]) / str(args["model_version"])
        self.step = step_from_config(config, version_dir, instance_device(args))
        LOGGER.info("%s: %r on %s", config.get("name"), self.step, instance_device(args))
        self.metrics = scorer_metrics(self.step, pb_utils)

    def _feeds(self, request: Any) -> Arrays:
        feeds: Arrays = {}
        for spec in self.step.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, spec.name)
            if tensor is None:
                if spec.optional:
                    continue
                raise StepInputError(f"input {spec.name!r}: missing")
            feeds[spec.name] = tensor.as_numpy()
        return feeds

    def _observe(self, feeds: Arrays, outputs: Mapping[str, np.ndarray]) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics.observe(ScoredPhoto.from_tensors(feeds, outputs))
        except Exception as exc:  # metrics never fail the answer
            LOGGER.warning("%s: metrics not updated: %s", self.step.name, exc)

    def _respond(self, outputs: Mapping[str, np.ndarray]) -> Any:
        return pb_utils.InferenceResponse(
            output_tensors=[
                pb_utils.Tensor(spec.name, np.ascontiguousarray(outputs[spec.name]))
                for spec in self.step.outputs
            ]
        )

    def _error(self, exc: BaseException) -> Any:
        if isinstance(exc, INPUT_ERRORS):
            code = pb_utils.TritonError.INVALID_ARG
            message = f"{self.step.name}: {exc}"
        else:
            LOGGER.error("%s: request failed", self.step.name, exc_info=exc)
            code = pb_utils.TritonError.INTERNAL
            message = f"{self.step.name}: internal error: {exc}"
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(message, code)
        )

    def _one(self, feeds: Arrays) -> Any:
        try:
            outputs = self.step(feeds)
            response = self._respond(outputs)
        except Exception as exc:
            return self._error(exc)
        self._observe(feeds, outputs)
        return response

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        good: list[tuple[int, Arrays]] = []
        for i, request in enumerate(requests):
            try:
                good.append((i, self._feeds(request)))
            except Exception as exc:
                responses[i] = self._error(exc)
        if self.step.batchable and len(good) > 1:
            try:
                outputs = self.step.run_batch([feeds for _, feeds in good])
            except Exception as exc:  # one bad request: answer each on its own below
                LOGGER.warning(
                    "%s: batch of %d failed (%s); one by one", self.step.name, len(good), exc
                )
            else:
                for (i, feeds), out in zip(good, outputs, strict=True):
                    responses[i] = self._respond(out)
                    self._observe(feeds, out)
                return responses
        for i, feeds in good:
            responses[i] = self._one(feeds)
        return responses

    def finalize(self) -> None:
        LOGGER.debug("%s: finalized", getattr(getattr(self, "step", None), "name", "?"))
