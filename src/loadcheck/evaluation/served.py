"""The served segmentator, run in-process on evaluation scenes: the pipeline's own steps.

:class:`ServedPipeline` wraps a :class:`~loadcheck.pipeline.runner.PipelineRunner` built from an
export folder (:meth:`ServedPipeline.from_networks`), so every evaluation measures the steps
Triton serves, with nothing copied:

* :meth:`~ServedPipeline.photo` runs ``preprocess`` and ``detector`` on a scene's JPEG bytes;
* :meth:`~ServedPipeline.detect` decodes the raw detections with the ``prompts`` step (at the
  served thresholds, or another confidence threshold and cap for a precision-recall curve);
* :meth:`~ServedPipeline.segment` gives the ``prompts`` step any prompts (the detector's, the true
  boxes...), in the served SAM frame or another, and runs ``sam_encoder``, ``sam_decoder`` and
  ``masks`` on them; the encoder's embeddings are kept per SAM region of the photo, so several
  prompt sets in one region encode it once.

:func:`served_trucks` pairs the served masks into trucks as the scorer does
(:func:`loadcheck.features.trucks.group_trucks`). Anything with the methods of
:class:`ScenePipeline` can stand in for the networks (tests use oracles that answer the truth).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import Detections, SegmentationMasks, TruckMasks
from loadcheck.pipeline.cards import ExportedNetworks, load_cards
from loadcheck.pipeline.declaration import SegmentatorSettings
from loadcheck.pipeline.preprocess import Letterbox
from loadcheck.pipeline.prompts import DetectorSettings, PromptsStep, SamFrame
from loadcheck.pipeline.runner import PipelineRunner

#: The card facts an evaluation's JSON records about each network.
CARD_FACTS = ("file", "model_type", "image_size", "source_checkpoint", "source_sha256")


@dataclass
class Photo:
    """One photo as the detector saw it.

    Attributes:
        rgb: uint8 ``[H, W, 3]``, the decoded photo.
        tensors: what ``preprocess`` and ``detector`` produced (``original_rgb``, ``letterbox``,
            ``raw_detections``...).
        embeddings: SAM image embeddings by SAM region (``sam_region_xywh`` bytes), filled by
            :meth:`ServedPipeline.segment`.
    """

    rgb: np.ndarray
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    embeddings: dict[bytes, np.ndarray] = field(default_factory=dict)

    @property
    def image_wh(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def no_masks(self) -> SegmentationMasks:
        """No mask at this photo's resolution."""
        w, h = self.image_wh
        return SegmentationMasks(np.zeros((0, h, w), bool), np.zeros(0, np.float32))


class Segments(Protocol):
    """Segments prompts of a photo (:meth:`ServedPipeline.segment`)."""

    def segment(
        self, photo: Photo, prompts: Detections, frame: SamFrame | None = None
    ) -> SegmentationMasks: ...


class ScenePipeline(Segments, Protocol):
    """What the evaluations ask of the served segmentator (see :class:`ServedPipeline`)."""

    @property
    def detector(self) -> DetectorSettings: ...

    @property
    def sam_side(self) -> int: ...

    def card_facts(self) -> dict[str, dict[str, Any]]: ...

    def photo(self, jpeg: bytes) -> Photo: ...

    def detect(
        self, photo: Photo, conf_thres: float | None = None, max_det: int | None = None
    ) -> Detections: ...


class ServedPipeline:
    """The segmentator's steps in-process (see the module docstring).

    Args:
        runner: the segmentator's runner (:meth:`PipelineRunner.from_networks` or
            :meth:`~PipelineRunner.from_repository`), or any runner whose steps include
            ``prompts`` and, after it, ``sam_encoder``, ``sam_decoder`` and ``masks`` (a SAM
            checkpoint without a detector: :mod:`loadcheck.evaluation.checkpoint_verdicts`).
        networks: the cards of the export folder, for :meth:`card_facts` (optional).
    """

    def __init__(self, runner: PipelineRunner, networks: ExportedNetworks | None = None) -> None:
        self.runner = runner
        self.networks = networks
        prompts = runner.step(tn.PROMPTS_MODEL)
        if not isinstance(prompts, PromptsStep):
            raise TypeError(f"{tn.PROMPTS_MODEL}: expected a PromptsStep, got {prompts!r}")
        self.prompts = prompts
        names = [link.step.name for link in runner.links]
        before = names.index(tn.PROMPTS_MODEL) - 1
        #: The last step :meth:`photo` runs (``detector``; ``preprocess`` without a detector).
        self.photo_stop = names[before] if before >= 0 else None
        self._variants: dict[tuple[Any, ...], PromptsStep] = {}

    @classmethod
    def from_networks(
        cls, models: Path | str, settings: SegmentatorSettings | None = None, *, threads: int = 0
    ) -> ServedPipeline:
        """The served segmentator of an export folder (networks in ONNX Runtime), with a site's
        settings (default: those ``loadcheck repository build`` uses by default).

        Raises:
            CardError: the folder does not hold the three networks' cards.
            DeclarationError: the networks do not make a segmentator.
        """
        networks = load_cards(models)
        return cls(PipelineRunner.from_networks(networks, settings, threads=threads), networks)

    @property
    def detector(self) -> DetectorSettings:
        """The served detector thresholds."""
        return self.prompts.settings.detector

    @property
    def sam_side(self) -> int:
        """S, the SAM encoder's input side in pixels."""
        return self.prompts.settings.sam_img_size

    def card_facts(self) -> dict[str, dict[str, Any]]:
        """Per network, the card facts of :data:`CARD_FACTS` (empty without cards)."""
        if self.networks is None:
            return {}
        cards = {
            tn.DETECTOR_MODEL: self.networks.detector,
            tn.SAM_ENCODER_MODEL: self.networks.sam_encoder,
            tn.SAM_DECODER_MODEL: self.networks.sam_decoder,
        }
        return {k: {f: getattr(c, f) for f in CARD_FACTS} for k, c in cards.items()}

    def prompts_step(self, **changes: Any) -> PromptsStep:
        """The served ``prompts`` step, or a copy with other settings (``conf_thres``,
        ``max_det``, ``sam_frame``...)."""
        if not changes:
            return self.prompts
        key = tuple(sorted(changes.items()))
        if key not in self._variants:
            settings = dataclasses.replace(self.prompts.settings, **changes)
            self._variants[key] = PromptsStep(self.prompts.name, settings)
        return self._variants[key]

    def photo(self, jpeg: bytes) -> Photo:
        """``preprocess`` and ``detector`` (the steps before ``prompts``) on one encoded photo."""
        if self.photo_stop is None:
            raise ValueError(f"no step decodes photos before {tn.PROMPTS_MODEL!r}")
        result = self.runner.run(
            {tn.IMAGE_BYTES: np.array([jpeg], np.object_)}, stop=self.photo_stop
        )
        return Photo(result.tensors[tn.ORIGINAL_RGB], result.tensors)

    def detect(
        self, photo: Photo, conf_thres: float | None = None, max_det: int | None = None
    ) -> Detections:
        """The detections the ``prompts`` step keeps (original pixels, loadcheck class ids, beds
        then loads); by default at the served thresholds."""
        changes: dict[str, Any] = {}
        if conf_thres is not None:
            changes["conf_thres"] = conf_thres
        if max_det is not None:
            changes["max_det"] = max_det
        step = self.prompts_step(**changes)
        transform = Letterbox.from_array(photo.tensors[tn.LETTERBOX])
        return step.detect(photo.tensors[tn.DETECTOR_RAW_OUTPUT], transform, photo.rgb)

    def segment(
        self, photo: Photo, prompts: Detections, frame: SamFrame | None = None
    ) -> SegmentationMasks:
        """The ``masks`` step's masks of ``prompts`` (one per prompt, in their order), SAM
        encoding the region the ``prompts`` step chooses for them in ``frame`` (default: the
        served frame)."""
        if not len(prompts):
            return photo.no_masks()
        served = frame is None or frame == self.prompts.settings.sam_frame
        step = self.prompts if served else self.prompts_step(sam_frame=frame)
        feeds = {**photo.tensors, **step.prompt(prompts, photo.rgb)}
        region = feeds[tn.SAM_REGION_XYWH].tobytes()
        if region not in photo.embeddings:
            encoded = self.runner.run(feeds, start=tn.SAM_ENCODER_MODEL, stop=tn.SAM_ENCODER_MODEL)
            photo.embeddings[region] = encoded.tensors[tn.SAM_EMBEDDINGS]
        feeds[tn.SAM_EMBEDDINGS] = photo.embeddings[region]
        out = self.runner.run(feeds, start=tn.SAM_DECODER_MODEL).tensors
        return SegmentationMasks(out[tn.MASKS].astype(bool), out[tn.MASK_IOU])


def kept_at(found: Detections, conf_thres: float) -> Detections:
    """The prompts the served threshold keeps of detections decoded at a lower one: those at
    or above ``conf_thres``, beds then loads (``select_prompts``)."""
    from loadcheck.pipeline.prompts import select_prompts

    kept = found.confidence >= conf_thres
    return select_prompts(
        Detections(found.xyxy[kept], found.confidence[kept], found.class_id[kept])
    )


def served_trucks(pipeline: Segments, photo: Photo, prompts: Detections) -> list[TruckMasks]:
    """The served trucks (most prominent first): ``prompts`` segmented in the served SAM frame,
    paired by ``group_trucks``."""
    from loadcheck.features.trucks import group_trucks

    return group_trucks(prompts, pipeline.segment(photo, prompts))
