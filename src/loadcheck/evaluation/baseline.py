"""The replaced system's way, for comparison: everything in one Python process, image by image.

segment-anything's PyTorch ``SamPredictor`` and YOLOv6 in PyTorch are the old networks; every
other part is the served pipeline's own: decoding and letterboxing by the ``preprocess`` step
(float32 NCHW in [0, 1], what the PyTorch detector takes), box decoding, NMS and the class map by
the ``prompts`` step, and the verdict by :func:`loadcheck.pipeline.scorer.score_segmentation`, all
with the settings the repository was built with (:func:`loadcheck.serving.repository.
read_manifest`) and the integrator's served score model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import SegmentationMasks
from loadcheck.pipeline.preprocess import Letterbox, PreprocessStep
from loadcheck.pipeline.prompts import PromptsStep
from loadcheck.pipeline.scorer import ScoredImage


class BaselineError(ValueError):
    """The baseline cannot be set up from these files; the message says why."""


@dataclass
class SingleProcessBaseline:
    """The old networks between the served pipeline's own steps (see the module docstring).

    Attributes:
        preprocess: the served ``preprocess`` step, feeding float32 NCHW in [0, 1].
        prompts: the served ``prompts`` step (its :meth:`~PromptsStep.detect`).
        detector: YOLOv6 in PyTorch (deploy form, eval mode).
        predictor: segment-anything's ``SamPredictor`` at the encoder card's size.
        score_model: the integrator's served score model.
    """

    preprocess: PreprocessStep
    prompts: PromptsStep
    detector: Any
    predictor: Any
    score_model: Any

    @classmethod
    def load(
        cls,
        export_dir: Path,
        repository: Path,
        integrator: str,
        *,
        sam_checkpoint: Path | None = None,
        detector_checkpoint: Path | None = None,
        sam_img_size: int | None = None,
    ) -> SingleProcessBaseline:
        """The baseline of the checkpoints ``export_dir``'s networks were exported from (or
        those given), with ``repository``'s settings and ``integrator``'s served score model.
        ``sam_img_size``: the side SAM encodes the whole photo at (the old system: 1024; None:
        the exported encoder's).

        Raises:
            BaselineError: no such repository, integrator or checkpoint.
        """
        from segment_anything import SamPredictor

        from loadcheck.export.sam_models import load_sam
        from loadcheck.export.yolov6_models import load_yolov6_checkpoint
        from loadcheck.pipeline.cards import CardError, InputContract, load_cards
        from loadcheck.pipeline.declaration import DeclarationError, Segmentator
        from loadcheck.pipeline.torch_networks import TorchRuntimeError, find_checkpoint
        from loadcheck.scoring.model import ScoreModel
        from loadcheck.serving.deploy import served_scorer_version
        from loadcheck.serving.repository import RepositoryError, read_manifest

        try:
            settings = read_manifest(repository).settings.segmentator
            networks = load_cards(export_dir)
            segmentator = Segmentator.from_networks(networks, settings)
            sam_path = sam_checkpoint or find_checkpoint(
                export_dir,
                networks.sam_encoder.source_checkpoint,
                networks.sam_encoder.source_sha256,
            )
            det_path = detector_checkpoint or find_checkpoint(
                export_dir, networks.detector.source_checkpoint, networks.detector.source_sha256
            )
        except (RepositoryError, CardError, DeclarationError, TorchRuntimeError) as exc:
            raise BaselineError(str(exc)) from exc
        version = served_scorer_version(repository, integrator)
        if version is None:
            raise BaselineError(f"{repository}: no fitted version of integrator {integrator!r}")
        folder = repository / tn.scorer_model_name(integrator) / str(version)
        preprocess = PreprocessStep(
            settings=dataclasses.replace(
                segmentator.preprocess.settings,
                detector_input=InputContract.FLOAT32_NCHW_RGB_UNIT,
            )
        )
        sam, _ = load_sam(sam_path, None, sam_img_size or networks.sam_encoder.image_size)
        return cls(
            preprocess=preprocess,
            prompts=segmentator.prompts,
            detector=load_yolov6_checkpoint(det_path),
            predictor=SamPredictor(sam),
            score_model=ScoreModel.load(folder),
        )

    @property
    def sam_img_size(self) -> int:
        return int(self.predictor.model.image_encoder.img_size)

    def __call__(self, image_bytes: bytes) -> ScoredImage:
        """The verdict of one encoded photo, the old way."""
        import torch

        from loadcheck.pipeline.scorer import score_segmentation

        pre = self.preprocess({tn.IMAGE_BYTES: np.array([image_bytes], np.object_)})
        rgb = pre[tn.ORIGINAL_RGB]
        with torch.inference_mode():
            raw = self.detector(torch.from_numpy(pre[tn.DETECTOR_INPUT]))
        raw = raw[0] if isinstance(raw, list | tuple) else raw
        prompts = self.prompts.detect(raw.numpy(), Letterbox.from_array(pre[tn.LETTERBOX]), rgb)
        self.predictor.set_image(rgb)
        h, w = rgb.shape[:2]
        if len(prompts):
            boxes = self.predictor.transform.apply_boxes_torch(
                torch.from_numpy(prompts.xyxy), (h, w)
            )
            with torch.inference_mode():
                masks, iou, _ = self.predictor.predict_torch(
                    None, None, boxes=boxes, multimask_output=False
                )
            mask_hw, iou_k = masks[:, 0].numpy(), iou[:, 0].numpy()
        else:
            mask_hw, iou_k = np.zeros((0, h, w), bool), np.zeros(0, np.float32)
        masks_out = SegmentationMasks(mask_hw, np.clip(iou_k, 0, 1))
        return score_segmentation(prompts, masks_out, self.score_model)
