"""Every tensor and model name, defined once.

The exporters name ONNX inputs/outputs with these constants, the repository builder wires the
ensembles with them, and the client reads responses by them. Never use auto-generated names such
as ``"input.1"``.

Shapes below use ``B`` for the batch, ``S`` for the SAM input side, ``K`` for prompt boxes,
``N`` for detections and ``C`` for detector classes.
"""

from __future__ import annotations

from typing import Final

# --- Model names in the Triton repository -------------------------------------------------------
PREPROCESS_MODEL: Final = "preprocess"
DETECTOR_MODEL: Final = "detector"
PROMPTS_MODEL: Final = "prompts"
SAM_ENCODER_MODEL: Final = "sam_encoder"
SAM_DECODER_MODEL: Final = "sam_decoder"
SAM_MODEL: Final = "sam"  # encoder + decoder in one model (python-torch, fuse_sam)
MASKS_MODEL: Final = "masks"
SEGMENTATOR_ENSEMBLE: Final = "segmentator"
SCORER_PREFIX: Final = "scorer_"
INTEGRATOR_PREFIX: Final = "integrator_"

# --- Detector (YOLOv6) ---------------------------------------------------------------------------
# uint8 [B, H, W, 3] RGB, letterboxed to the detector size; /255 and HWC->CHW happen in the graph.
DETECTOR_INPUT: Final = "images"
# float32 [B, N, 5 + C]: cx, cy, w, h (detector-input pixels), objectness, class scores.
DETECTOR_RAW_OUTPUT: Final = "raw_detections"
# With NMS in the graph (--nms onnx): fixed, named outputs.
DETECTOR_NUM_DETS: Final = "num_dets"  # int32 [B, 1]
DETECTOR_BOXES: Final = "det_boxes"  # float32 [B, M, 4] xyxy in detector-input pixels
DETECTOR_SCORES: Final = "det_scores"  # float32 [B, M]
DETECTOR_CLASSES: Final = "det_classes"  # int32 [B, M]

# --- SAM image encoder ---------------------------------------------------------------------------
# uint8 [B, S, S, 3] RGB, longest side resized to S and padded bottom/right (zeros work; the
# card's pad_rgb, SAM's pixel mean, matches SAM's own padding); normalisation is in the graph.
SAM_ENCODER_INPUT: Final = "image"
SAM_EMBEDDINGS: Final = "image_embeddings"  # float32 [B, 256, S/16, S/16]

# --- SAM mask decoder ----------------------------------------------------------------------------
SAM_DECODER_EMBEDDINGS: Final = SAM_EMBEDDINGS  # float32 [1, 256, S/16, S/16]
SAM_DECODER_BOXES: Final = "boxes_xyxy"  # float32 [K, 4] in the encoder's S x S frame
SAM_DECODER_POINT_COORDS: Final = "point_coords"  # float32 [K, 1, 2] in the S x S frame
SAM_DECODER_POINT_LABELS: Final = "point_labels"  # float32 [K, 1]: 1 positive, -1 no point
SAM_LOW_RES_MASKS: Final = "low_res_masks"  # float32 [K, 1, S/4, S/4] logits
SAM_IOU_PREDICTIONS: Final = "iou_predictions"  # float32 [K, 1]

# --- Internal tensors between the serving steps (loadcheck.serving) -----------------------------
ORIGINAL_RGB: Final = "original_rgb"  # uint8 [H, W, 3] the decoded image, EXIF-oriented RGB
LETTERBOX: Final = "letterbox"  # float32 [3] scale, pad_x, pad_y: detector = original*scale+pad
SAM_REGION_XYWH: Final = "sam_region_xywh"  # float32 [4] the original-pixel region SAM encodes
IMAGE_WH: Final = "image_wh"  # int32 [2] original width, height

# --- Ensembles (public inference API) ------------------------------------------------------------
IMAGE_BYTES: Final = "IMAGE"  # BYTES [1]: an encoded JPEG/PNG/BMP/WebP file
BOXES_XYXY: Final = "BOXES_XYXY"  # float32 [N, 4] in original-image pixels
CLASS_IDS: Final = "CLASS_IDS"  # int32 [N]
SCORES: Final = "SCORES"  # float32 [N]
MASKS: Final = "MASKS"  # uint8 [N, H, W] 0/1 at original resolution
MASK_IOU: Final = "MASK_IOU"  # float32 [N]
SCORE_RESULT: Final = "SCORE_RESULT"  # BYTES [1]: "Qualified" | "Unqualified" | "No Mine Detected"
PROBABILITY: Final = "PROBABILITY"  # float32 [1]
THRESHOLD: Final = "THRESHOLD"  # float32 [1]
FEATURES: Final = "FEATURES"  # float32 [F]
FEATURE_NAMES: Final = "FEATURE_NAMES"  # BYTES [F]
FEATURE_SPEC_VERSION: Final = "FEATURE_SPEC_VERSION"  # BYTES [1]
TRUCKS_JSON: Final = "TRUCKS_JSON"  # BYTES [1]: per-truck results, most prominent first
REVIEW_JSON: Final = "REVIEW_JSON"  # BYTES [1]: {"needs_review", "reasons": [{code, message}]}
PROVENANCE_JSON: Final = "PROVENANCE_JSON"  # BYTES [1]: integrator, scorer version, build, cards
# Optional input of integrator_<name> and scorer_<name>: a camera's region of interest, K polygon
# points [x, y] in original-image pixels (loadcheck.features.roi); absent: the whole image.
ROI_POLYGON: Final = "ROI_POLYGON"  # float32 [K, 2]


def scorer_model_name(integrator: str) -> str:
    return f"{SCORER_PREFIX}{integrator}"


def integrator_model_name(integrator: str) -> str:
    return f"{INTEGRATOR_PREFIX}{integrator}"
