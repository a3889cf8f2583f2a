"""The networks as steps: ``detector``, ``sam_encoder`` and ``sam_decoder``.

:class:`OnnxNetworkStep` runs an exported ONNX file in ONNX Runtime (the ``python-onnxruntime``
runtime inside Triton, and the in-process runner); :class:`TorchNetworkStep` runs the exporters'
PyTorch modules (the ``python-torch`` runtime, bf16 on a GPU, see
:mod:`loadcheck.pipeline.torch_networks`). A network's tensors are those of its model card (or of
the model's config inside Triton). With Triton's dynamic batching, the requests of one
``execute`` call run as one batch (:meth:`NetworkStep.run_batch`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.step import Arrays, Step, StepContext, StepInputError
from loadcheck.pipeline.tensors import TensorSpec

LOGGER = logging.getLogger(__name__)


class NetworkError(RuntimeError):
    """A network cannot be loaded where it was asked to run; the message says why."""


class OnnxNetwork:
    """An ONNX Runtime session with input checks that produce readable errors.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (0 = ONNX Runtime's default).
        use_gpu: run on the CUDA execution provider; :class:`NetworkError` when ONNX Runtime
            has none (the CPU-only ``onnxruntime`` package never silently stands in for a GPU).
    """

    def __init__(self, path: Path, *, threads: int = 0, use_gpu: bool = False) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if use_gpu:
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise NetworkError(
                    f"{Path(path).name}: a GPU was requested but ONNX Runtime "
                    f"{ort.__version__} has no CUDAExecutionProvider (available: "
                    f"{ort.get_available_providers()}); install onnxruntime-gpu, or build the "
                    "repository with --device cpu or the python-torch runtime"
                )
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run the network; :class:`StepInputError` names a missing input or the runtime's error."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise StepInputError(f"input {missing[0]!r}: missing")
        names = list(outputs) if outputs is not None else self.output_names
        try:
            result = self.session.run(names, {k: feeds[k] for k in self.input_names})
        except Exception as exc:  # ONNX Runtime raises its own exception types
            raise StepInputError(f"{self.path.name}: ONNX Runtime failed: {exc}") from exc
        return dict(zip(names, result, strict=True))


@dataclass(frozen=True)
class OnnxNetworkSettings(StepSettings):
    """Attributes:
    network_file: the ONNX file in the model's version folder.
    intra_op_threads: ONNX Runtime threads per instance (0: its default).
    """

    network_file: str = "model.onnx"
    intra_op_threads: int = 0

    def __post_init__(self) -> None:
        if self.intra_op_threads < 0:
            raise ValueError(f"intra_op_threads: expected >= 0, got {self.intra_op_threads}")
        if not self.network_file or "/" in self.network_file:
            raise ValueError(f"network_file: expected a file name, got {self.network_file!r}")


class NetworkStep(Step):
    """A network: tensors from its card or config, requests batched along the first axis.

    ``engine`` is what runs it (an :class:`OnnxNetwork`, a PyTorch module...), opened by the
    subclass's :meth:`open` from the settings and the model's version folder.
    """

    batchable = True

    def __init__(
        self,
        name: str,
        settings: StepSettings,
        inputs: Sequence[TensorSpec],
        outputs: Sequence[TensorSpec],
        engine: Any,
        *,
        batching: bool = False,
    ) -> None:
        super().__init__(name, settings)
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        self.engine = engine
        self.batching = batching

    @classmethod
    def open(cls, settings: StepSettings, context: StepContext, folder: Path) -> Any:
        """The engine of ``settings`` whose files are in ``folder``, on ``context.device``."""
        raise NotImplementedError

    @classmethod
    def load(cls, settings: StepSettings, context: StepContext) -> Self:
        if context.version_dir is None:
            raise NetworkError(f"{context.name}: a network needs its model's version folder")
        engine = cls.open(settings, context, context.version_dir)
        return cls(
            context.name,
            settings,
            context.inputs,
            context.outputs,
            engine,
            batching=context.batching,
        )

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    def empty_outputs(self) -> Arrays:
        """Zero-size outputs (dynamic dimensions 0) for a request with an empty input."""
        return {
            t.name: np.zeros(tuple(max(d, 0) for d in t.shape), t.numpy_dtype) for t in self.outputs
        }

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        checked = self.check(feeds)
        if any(v.size == 0 for v in checked.values()):
            return self.empty_outputs()
        return self.compute(checked)

    def run_batch(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[Arrays]:
        """All requests as one batch (concatenated on the first axis) when the model batches.

        Raises like :meth:`__call__` when any request is bad; the Triton adapter then runs the
        requests one at a time, so that only the bad one fails.
        """
        if not self.batching or len(requests) < 2:
            return super().run_batch(requests)
        checked = [self.check(r) for r in requests]
        if any(v.size == 0 for c in checked for v in c.values()):
            return super().run_batch(requests)
        batch = {t.name: np.concatenate([c[t.name] for c in checked]) for t in self.inputs}
        out = self.compute(batch)
        sizes = np.cumsum([len(c[self.inputs[0].name]) for c in checked])[:-1]
        parts = {name: np.split(value, sizes) for name, value in out.items()}
        return [{name: parts[name][i] for name in out} for i in range(len(requests))]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class OnnxNetworkStep(NetworkStep):
    """An ONNX network in ONNX Runtime (``python-onnxruntime`` runtime, in-process runner)."""

    kind = "onnx_network"
    settings_type = OnnxNetworkSettings
    settings: OnnxNetworkSettings

    engine: OnnxNetwork

    @classmethod
    def open(cls, settings: StepSettings, context: StepContext, folder: Path) -> OnnxNetwork:
        assert isinstance(settings, OnnxNetworkSettings)
        return OnnxNetwork(
            folder / settings.network_file,
            threads=settings.intra_op_threads,
            use_gpu=context.device != "cpu",
        )

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        return self.engine.run(feeds, [t.name for t in self.outputs])


def torch_device(context: StepContext) -> Any:
    """The ``torch.device`` of ``context.device``; :class:`NetworkError` when a GPU was asked
    for and PyTorch sees none."""
    import torch

    if context.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise NetworkError(
            f"{context.name}: a GPU was requested ({context.device}) but PyTorch "
            f"{torch.__version__} sees no CUDA device; build the repository with --device cpu"
        )
    return torch.device(context.device)
