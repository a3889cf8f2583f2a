"""``PipelineRunner``: the served pipeline in one process, step by step, without Triton.

The runner runs the same step objects with the same settings as Triton does:

* :meth:`PipelineRunner.from_repository` follows a built repository's ensemble
  (``segmentator`` or ``integrator_<name>``, nested ensembles expanded) and builds every
  composing model from its ``config.pbtxt`` with
  :func:`~loadcheck.pipeline.registry.step_from_config`, as the Triton adapter does;
* :meth:`PipelineRunner.from_networks` builds the
  :class:`~loadcheck.pipeline.declaration.Segmentator` of an export folder directly (the
  networks in ONNX Runtime), for benchmarks and evaluations that try settings without writing
  a repository.

:meth:`PipelineRunner.run` feeds tensors through the steps by name and keeps every
intermediate tensor, so an evaluation can stop after the detector, swap in other prompts and go
on from the SAM encoder (``start`` / ``stop``). :meth:`~PipelineRunner.segment` and
:meth:`~PipelineRunner.inspect` decode the outputs with the client's own decoders.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import Detections, InspectionResult, SegmentationMasks
from loadcheck.pipeline.cards import ExportedNetworks, load_cards
from loadcheck.pipeline.declaration import NetworkStage, Segmentator, SegmentatorSettings
from loadcheck.pipeline.networks import OnnxNetworkSettings, OnnxNetworkStep
from loadcheck.pipeline.registry import step_from_config
from loadcheck.pipeline.step import Step, StepContext


class RunnerError(ValueError):
    """The repository or the request cannot be run in-process; the message says why."""


@dataclass(frozen=True)
class Link:
    """A step with the names its tensors have in the flattened pipeline (model tensor name ->
    pipeline tensor name; identity for loadcheck's own ensembles)."""

    step: Step
    input_map: Mapping[str, str]
    output_map: Mapping[str, str]


@dataclass(frozen=True)
class RunResult:
    """Every tensor a run produced (inputs included) and each step's time in milliseconds."""

    tensors: dict[str, np.ndarray]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Segmentation:
    """The ``segmentator``'s answer: detections and their masks, plus per-step timings."""

    detections: Detections
    masks: SegmentationMasks
    timings_ms: dict[str, float] = field(default_factory=dict)


def _identity(names: Sequence[str]) -> dict[str, str]:
    return {n: n for n in names}


class PipelineRunner:
    """Run steps in order, feeding each the tensors of the names it declares (see module)."""

    def __init__(self, links: Sequence[Link], outputs: Sequence[str]) -> None:
        self.links = tuple(links)
        self.outputs = tuple(outputs)
        names = [link.step.name for link in self.links]
        if len(set(names)) != len(names):
            raise RunnerError(f"a step appears twice in {names}")

    @classmethod
    def from_steps(cls, steps: Sequence[Step], outputs: Sequence[str]) -> PipelineRunner:
        """Steps whose tensors keep their names from one step to the next."""
        return cls(
            [
                Link(
                    s, _identity([t.name for t in s.inputs]), _identity([t.name for t in s.outputs])
                )
                for s in steps
            ],
            outputs,
        )

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_repository(
        cls, repository: Path | str, model: str = tn.SEGMENTATOR_ENSEMBLE
    ) -> PipelineRunner:
        """The ensemble ``model`` of a built repository (``segmentator`` or
        ``integrator_<name>``), each step built from its ``config.pbtxt`` as Triton builds it.

        Raises:
            RunnerError: no such model, a TensorRT plan (it runs on a GPU only), or a config
                that does not describe a loadcheck step.
        """
        root = Path(repository)
        config = _read_config(root, model)
        if config.get("platform") != "ensemble":
            raise RunnerError(f"{model}: not an ensemble; expected segmentator or integrator_*")
        links = _expand(root, config, {})
        outputs = [str(o["name"]) for o in config.get("output", [])]
        return cls(links, outputs)

    @classmethod
    def from_networks(
        cls,
        networks: ExportedNetworks | Path | str,
        settings: SegmentatorSettings | None = None,
        *,
        threads: int = 0,
    ) -> PipelineRunner:
        """The segmentator of an export folder (cards + ONNX files), networks in ONNX Runtime."""
        if not isinstance(networks, ExportedNetworks):
            networks = load_cards(networks)
        if settings is not None and settings.fuse_sam:
            raise RunnerError(
                "fuse_sam needs the python-torch runtime: build a repository with it and use "
                "PipelineRunner.from_repository"
            )
        segmentator = Segmentator.from_networks(networks, settings)
        steps: list[Step] = []
        for stage in segmentator.stages:
            if isinstance(stage, Step):
                steps.append(stage)
                continue
            assert isinstance(stage, NetworkStage)
            network_settings = OnnxNetworkSettings(stage.path.name, threads)
            context = StepContext(stage.name, stage.path.parent, "cpu", stage.inputs, stage.outputs)
            steps.append(OnnxNetworkStep.load(network_settings, context))
        return cls.from_steps(steps, [t.name for t in segmentator.outputs])

    # -- running --------------------------------------------------------------------------------
    def step(self, name: str) -> Step:
        """The step called ``name`` (``prompts``, ``sam_encoder``...)."""
        for link in self.links:
            if link.step.name == name:
                return link.step
        raise RunnerError(f"no step {name!r}; steps: {[k.step.name for k in self.links]}")

    def _index(self, name: str | None, default: int) -> int:
        if name is None:
            return default
        for i, link in enumerate(self.links):
            if link.step.name == name:
                return i
        raise RunnerError(f"no step {name!r}; steps: {[k.step.name for k in self.links]}")

    def run(
        self,
        feeds: Mapping[str, np.ndarray],
        *,
        start: str | None = None,
        stop: str | None = None,
    ) -> RunResult:
        """Run the steps from ``start`` through ``stop`` (both included; default: all).

        ``feeds`` holds the tensors the first step needs, or, with ``start``, every tensor the
        remaining steps read from earlier ones (a previous :class:`RunResult`'s ``tensors``).
        """
        tensors: dict[str, np.ndarray] = dict(feeds)
        timings: dict[str, float] = {}
        first, last = self._index(start, 0), self._index(stop, len(self.links) - 1)
        for link in self.links[first : last + 1]:
            step_feeds = {
                inner: tensors[outer] for inner, outer in link.input_map.items() if outer in tensors
            }
            began = time.perf_counter()
            out = link.step(step_feeds)
            timings[link.step.name] = (time.perf_counter() - began) * 1e3
            for inner, outer in link.output_map.items():
                tensors[outer] = out[inner]
        return RunResult(tensors, timings)

    def __call__(
        self, image_bytes: bytes, roi: Sequence[tuple[float, float]] | None = None
    ) -> RunResult:
        """Run every step on one encoded photo (with a region of interest for the scorer:
        ``ROI_POLYGON``, :mod:`loadcheck.features.roi`)."""
        feeds = {tn.IMAGE_BYTES: np.array([image_bytes], np.object_)}
        if roi is not None:
            from loadcheck.features.roi import roi_tensor

            feeds[tn.ROI_POLYGON] = roi_tensor(roi)
        return self.run(feeds)

    def segment(self, image_bytes: bytes) -> Segmentation:
        """Detections and masks of one encoded photo, decoded as the client decodes them."""
        from loadcheck.client.decode import decode_detections, decode_masks

        result = self(image_bytes)
        model = tn.SEGMENTATOR_ENSEMBLE
        return Segmentation(
            decode_detections(result.tensors, model),
            decode_masks(result.tensors, model),
            result.timings_ms,
        )

    def inspect(
        self, image_bytes: bytes, roi: Sequence[tuple[float, float]] | None = None
    ) -> InspectionResult:
        """The verdict of one encoded photo (an integrator's runner), decoded as the client
        decodes ``integrator_<name>``'s answer (boxes and masks included); ``roi``: a camera's
        region of interest (polygon points in image pixels; ``None``: the whole image).

        Raises:
            RoiError: ``roi`` is not a polygon (:func:`loadcheck.features.roi.check_roi`).
        """
        from loadcheck.client.decode import decode_inspection
        from loadcheck.payloads import StageTimings

        if tn.SCORE_RESULT not in self.outputs:
            raise RunnerError("inspect needs an integrator's runner (integrator_<name>)")
        result = self(image_bytes, roi)
        decoded = decode_inspection(result.tensors, model="in-process")
        return InspectionResult(
            score_result=decoded.score_result,
            probability=decoded.probability,
            threshold=decoded.threshold,
            features=decoded.features,
            detections=decoded.detections,
            timings=StageTimings(result.timings_ms),
            masks=decoded.masks,
            trucks=decoded.trucks,
            review=decoded.review,
            provenance=decoded.provenance,
        )


def _read_config(root: Path, model: str) -> dict[str, Any]:
    from loadcheck.serving.config import parse_config

    path = root / model / "config.pbtxt"
    if not path.is_file():
        raise RunnerError(f"{root}: no model {model!r} (no {path.name}); build the repository")
    return parse_config(path.read_text(encoding="utf-8"))


def _version_dir(root: Path, model: str, config: Mapping[str, object]) -> Path | None:
    policy = config.get("version_policy") or {}
    specific = policy.get("specific", {}) if isinstance(policy, dict) else {}
    versions = [int(v) for v in specific.get("versions", [])]
    if not versions:
        versions = [int(p.name) for p in (root / model).iterdir() if p.name.isdigit()]
    return root / model / str(max(versions)) if versions else None


def _expand(
    root: Path, config: Mapping[str, object], rename: Mapping[str, str], depth: int = 0
) -> list[Link]:
    """The leaf steps of an ensemble, in order, with their tensors' names in the outermost
    ensemble (``rename``: this ensemble's tensor name -> the outer name; names it does not
    map keep their own)."""
    if depth > 8:
        raise RunnerError(f"{config.get('name')}: ensembles nested too deep (a cycle?)")
    links: list[Link] = []
    scheduling = config.get("ensemble_scheduling") or {}
    assert isinstance(scheduling, dict)
    for item in scheduling.get("step", []):
        model = str(item["model_name"])
        input_map = {
            str(k): rename.get(str(v), str(v)) for k, v in item.get("input_map", {}).items()
        }
        output_map = {
            str(k): rename.get(str(v), str(v)) for k, v in item.get("output_map", {}).items()
        }
        child = _read_config(root, model)
        if child.get("platform") == "ensemble":
            links.extend(_expand(root, child, {**input_map, **output_map}, depth + 1))
            continue
        if child.get("platform") == "tensorrt_plan":
            raise RunnerError(
                f"{model}: a TensorRT plan runs on a GPU inside Triton only; build the repository "
                "with --runtime python-onnxruntime (or onnxruntime) to run it in-process"
            )
        step = step_from_config(child, _version_dir(root, model, child))
        links.append(Link(step, input_map, output_map))
    return links
