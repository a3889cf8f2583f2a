"""The segmentator declared once, and the integrator built on it.

``IMAGE -> preprocess -> detector -> prompts -> sam_encoder -> sam_decoder -> masks``

:class:`Segmentator` holds the six stages in order: the Python steps as configured
:class:`~loadcheck.pipeline.step.Step` objects, the networks as :class:`NetworkStage` (their
model card and exported file; a runtime decides how they run). Everything else is generated from
it: each Python step's ``config.pbtxt``, the ``segmentator`` ensemble and the
``integrator_<name>`` ensembles (``loadcheck.serving.repository``), and the in-process
runner (:mod:`loadcheck.pipeline.runner`). The ensembles are wired by tensor names:
:func:`wire` connects each stage's inputs to the ensemble's inputs or an earlier stage's outputs
of the same name, and refuses a missing tensor or two tensors of one name that disagree.

An integrator is the ``segmentator`` (as a nested ensemble) followed by its ``scorer_<name>``;
it takes the photo and an optional region of interest (``ROI_POLYGON``, wired to the scorer),
and returns the verdict and, on request, the segmentator's boxes and masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from loadcheck import tensor_names as tn
from loadcheck.imageio import DEFAULT_MAX_PIXELS
from loadcheck.pipeline.cards import ExportedNetworks, InputContract, ModelCard
from loadcheck.pipeline.masks import MaskRefinement, MasksSettings, MasksStep
from loadcheck.pipeline.preprocess import PreprocessSettings, PreprocessStep
from loadcheck.pipeline.prompts import DetectorSettings, PromptsSettings, PromptsStep, SamFrame
from loadcheck.pipeline.scorer import (
    ROI_INPUT,
    SCORER_INPUTS,
    SEGMENTATION_TENSORS,
    VERDICT_TENSORS,
)
from loadcheck.pipeline.tensors import TensorSpec, spec

#: The segmentator's models, in pipeline order (what :attr:`Segmentator.stages` holds).
SEGMENTATOR_MODELS: tuple[str, ...] = (
    tn.PREPROCESS_MODEL,
    tn.DETECTOR_MODEL,
    tn.PROMPTS_MODEL,
    tn.SAM_ENCODER_MODEL,
    tn.SAM_DECODER_MODEL,
    tn.MASKS_MODEL,
)
#: The ensembles' input: one encoded photo.
IMAGE_INPUT = spec(tn.IMAGE_BYTES, "bytes", 1)


class DeclarationError(ValueError):
    """The stages do not connect (a tensor is missing or two of one name disagree)."""


class Stage(Protocol):
    """What the wiring needs of a stage: its model name and declared tensors."""

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]: ...


@dataclass(frozen=True)
class NetworkStage:
    """A network of the segmentator: its model name, card and exported ONNX file."""

    name: str
    card: ModelCard
    path: Path

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.card.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.card.outputs


@dataclass(frozen=True)
class FusedSamStage:
    """``sam``: SAM's encoder and decoder as one model (``fuse_sam``, the ``python-torch``
    runtime), so that the image embeddings stay on the device
    (:mod:`loadcheck.pipeline.torch_sam`). Takes the encoder's input and the decoder's prompts,
    returns the decoder's outputs."""

    encoder: NetworkStage
    decoder: NetworkStage
    name: str = tn.SAM_MODEL

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        prompts = tuple(t for t in self.decoder.inputs if t.name != tn.SAM_DECODER_EMBEDDINGS)
        return (*self.encoder.inputs, *prompts)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.decoder.outputs


@dataclass(frozen=True)
class EnsembleStage:
    """An ensemble used as one stage of another (the segmentator inside an integrator)."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class ScorerStage:
    """``scorer_<integrator>``: the segmentator's outputs (and the optional region of interest)
    in, the verdict out."""

    name: str
    inputs: tuple[TensorSpec, ...] = SCORER_INPUTS
    outputs: tuple[TensorSpec, ...] = VERDICT_TENSORS


@dataclass(frozen=True)
class Wire:
    """One stage of an ensemble with the tensor names it reads and writes."""

    stage: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _compatible(a: TensorSpec, b: TensorSpec) -> bool:
    if a.dtype != b.dtype or len(a.shape) != len(b.shape):
        return False
    return all(x == y or -1 in (x, y) for x, y in zip(a.shape, b.shape, strict=True))


def wire(
    stages: Sequence[Stage], inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
) -> list[Wire]:
    """Connect ``stages`` in order by tensor names (see the module docstring).

    Raises:
        DeclarationError: a stage input no earlier stage (nor the ensemble input) provides, an
            ensemble output nothing provides, or a producer and a consumer whose dtype or shape
            disagree.
    """
    available: dict[str, tuple[str, TensorSpec]] = {
        t.name: ("the ensemble input", t) for t in inputs
    }
    wires = []
    for stage in stages:
        for want in stage.inputs:
            got = available.get(want.name)
            if got is None:
                if want.optional:
                    continue
                raise DeclarationError(
                    f"{stage.name}: input {want.name!r} is produced by no earlier stage; "
                    f"available: {sorted(available)}"
                )
            if not _compatible(got[1], want):
                raise DeclarationError(
                    f"{stage.name}: input {want.name!r} expects {want.dtype} {list(want.shape)} "
                    f"but {got[0]} gives {got[1].dtype} {list(got[1].shape)}"
                )
        wires.append(
            Wire(
                stage.name,
                tuple(t.name for t in stage.inputs if t.name in available),
                tuple(t.name for t in stage.outputs),
            )
        )
        for out in stage.outputs:
            available[out.name] = (stage.name, out)
    for out in outputs:
        got = available.get(out.name)
        if got is None or not _compatible(got[1], out):
            raise DeclarationError(
                f"ensemble output {out.name!r}: no stage provides it as declared"
            )
    return wires


@dataclass(frozen=True)
class SegmentatorSettings:
    """What a site chooses about the segmentator (the old system's settings, and more).

    Attributes:
        detector: confidence / IoU thresholds and max detections.
        sam_frame: ``crop`` (SAM on the detected trucks' region) or ``whole`` (the frame).
        sam_img_size: S of the SAM encoder (must match the exported encoder); ``None``: the card's.
        max_pixels: decoded photos above this many pixels are refused.
        mask_refine: guided-filter refinement of SAM's masks (radius 0: off).
        fuse_sam: SAM's encoder and decoder as one model (:class:`FusedSamStage`); only the
            ``python-torch`` runtime serves it.
    """

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    sam_frame: SamFrame = SamFrame.CROP
    sam_img_size: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    mask_refine: MaskRefinement = field(default_factory=MaskRefinement)
    fuse_sam: bool = False


@dataclass(frozen=True)
class Segmentator:
    """The six stages of the segmentator, configured for one set of exported networks."""

    preprocess: PreprocessStep
    detector: NetworkStage
    prompts: PromptsStep
    sam_encoder: NetworkStage
    sam_decoder: NetworkStage
    masks: MasksStep
    fuse_sam: bool = False

    name: ClassVar[str] = tn.SEGMENTATOR_ENSEMBLE
    inputs: ClassVar[tuple[TensorSpec, ...]] = (IMAGE_INPUT,)
    outputs: ClassVar[tuple[TensorSpec, ...]] = SEGMENTATION_TENSORS

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages in pipeline order (five with ``fuse_sam``: encoder and decoder as one)."""
        if self.fuse_sam:
            sam = FusedSamStage(self.sam_encoder, self.sam_decoder)
            return (self.preprocess, self.detector, self.prompts, sam, self.masks)
        return (
            self.preprocess,
            self.detector,
            self.prompts,
            self.sam_encoder,
            self.sam_decoder,
            self.masks,
        )

    def wires(self) -> list[Wire]:
        return wire(self.stages, self.inputs, self.outputs)

    @classmethod
    def from_networks(
        cls, networks: ExportedNetworks, settings: SegmentatorSettings | None = None
    ) -> Segmentator:
        """The segmentator of an export folder's networks with a site's settings.

        Raises:
            DeclarationError: a detector with in-graph NMS, a SAM size other than the encoder's,
                or networks whose tensors do not connect.
        """
        settings = settings or SegmentatorSettings()
        det, enc = networks.detector, networks.sam_encoder
        if det.nms != "none":
            raise DeclarationError(
                f"detector: in-graph NMS ({det.nms!r}) is not served yet; export with raw output"
            )
        side = int(enc.image_size)
        if settings.sam_img_size is not None and settings.sam_img_size != side:
            raise DeclarationError(
                f"--sam-img-size {settings.sam_img_size} differs from the exported encoder's "
                f"S={side}; re-export the encoder at that size"
            )
        try:
            contract = InputContract(det.input_contract)
            preprocess = PreprocessSettings(
                detector_height=int(det.image_size),
                detector_width=int(det.image_size),
                detector_pad=int(det.pad_rgb[0]),
                detector_input=contract,
                max_pixels=settings.max_pixels,
            )
            prompts = PromptsSettings(
                conf_thres=settings.detector.conf_thres,
                iou_thres=settings.detector.iou_thres,
                max_det=settings.detector.max_det,
                sam_img_size=side,
                sam_frame=settings.sam_frame,
                sam_pad_rgb=tuple(int(v) for v in enc.pad_rgb),
                class_map=dict(det.class_map),
                num_classes=det.num_classes,
            )
            masks = MasksSettings(
                sam_img_size=side,
                mask_refine_radius=settings.mask_refine.radius,
                mask_refine_eps=settings.mask_refine.eps,
            )
        except ValueError as exc:
            raise DeclarationError(f"the exported networks' cards: {exc}") from exc
        segmentator = cls(
            preprocess=PreprocessStep(settings=preprocess),
            detector=NetworkStage(tn.DETECTOR_MODEL, det, networks.path(tn.DETECTOR_MODEL)),
            prompts=PromptsStep(settings=prompts),
            sam_encoder=NetworkStage(
                tn.SAM_ENCODER_MODEL, enc, networks.path(tn.SAM_ENCODER_MODEL)
            ),
            sam_decoder=NetworkStage(
                tn.SAM_DECODER_MODEL,
                networks.sam_decoder,
                networks.path(tn.SAM_DECODER_MODEL),
            ),
            masks=MasksStep(settings=masks),
            fuse_sam=settings.fuse_sam,
        )
        segmentator.wires()  # refuses networks whose tensors do not connect
        return segmentator


#: The segmentator as one stage of an integrator's ensemble.
SEGMENTATOR_STAGE = EnsembleStage(tn.SEGMENTATOR_ENSEMBLE, (IMAGE_INPUT,), SEGMENTATION_TENSORS)
#: What ``integrator_<name>`` takes: one photo and, optionally, a camera's region of interest
#: (``ROI_POLYGON``, passed to the scorer; absent: the whole image is judged).
INTEGRATOR_INPUTS: tuple[TensorSpec, ...] = (IMAGE_INPUT, ROI_INPUT)
#: What ``integrator_<name>`` returns: the verdict, and on request the boxes and masks.
INTEGRATOR_OUTPUTS: tuple[TensorSpec, ...] = (*VERDICT_TENSORS, *SEGMENTATION_TENSORS)


def integrator_stages(integrator: str) -> tuple[Stage, ...]:
    """``integrator_<name>``'s stages: the segmentator ensemble, then ``scorer_<name>``."""
    return (SEGMENTATOR_STAGE, ScorerStage(tn.scorer_model_name(integrator)))
