"""The inspection pipeline, declared once: one photo from request to verdict.

Follow a photo through these modules, in order; Triton serves exactly these steps (each one a
model run by :mod:`loadcheck.serving.backend`) and :mod:`loadcheck.pipeline.runner` runs the
same objects in one process:

1. :mod:`~loadcheck.pipeline.preprocess` — encoded bytes -> RGB photo (:mod:`loadcheck.imageio`)
   -> letterboxed detector input;
2. :mod:`~loadcheck.pipeline.networks` — the detector (YOLOv6, ONNX or PyTorch) -> raw boxes;
3. :mod:`~loadcheck.pipeline.prompts` — decoding, NMS, class map, SAM's region and its prompts;
4. :mod:`~loadcheck.pipeline.networks` — SAM's image encoder, then its mask decoder (all boxes
   of the photo in one call);
5. :mod:`~loadcheck.pipeline.masks` — low-resolution logits -> masks at the photo's resolution;
6. :mod:`~loadcheck.pipeline.scorer` — trucks, load-geometry features, the integrator's
   XGBoost model -> "Qualified" / "Unqualified" / "No Mine Detected".

The building blocks: :mod:`~loadcheck.pipeline.tensors` (``TensorSpec``),
:mod:`~loadcheck.pipeline.cards` (``ModelCard``), :mod:`~loadcheck.pipeline.params`
(``StepSettings``), :mod:`~loadcheck.pipeline.step` (``Step``), :mod:`~loadcheck.pipeline.registry`
(steps by kind, built from a model config) and :mod:`~loadcheck.pipeline.declaration` (the
segmentator's stages in order, wired by tensor names).
"""
