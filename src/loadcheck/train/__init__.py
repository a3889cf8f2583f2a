"""Training of the detector (YOLOv6) and the segmenter (SAM): ``loadcheck train``.

* :func:`loadcheck.train.detector.train_detector` with
  :class:`~loadcheck.train.detector.DetectorTrainSettings`: YOLOv6's own model and loss on a
  YOLO-format dataset; writes a checkpoint ``loadcheck export yolov6`` accepts.
* :func:`loadcheck.train.segmenter.train_segmenter` with
  :class:`~loadcheck.train.segmenter.SegmenterTrainSettings`: a small SAM (``vit_tiny``) on box
  prompts, or a real SAM's mask decoder; writes a state dict ``loadcheck export sam`` accepts.
* :class:`~loadcheck.train.common.TrainError`: every bad input, with what was expected.

Light to import: torch, yolov6 and segment-anything load inside the functions that use them.
"""

from loadcheck.train.common import TrainError

__all__ = ["TrainError"]
