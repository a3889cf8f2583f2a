"""Training of the detector (YOLOv6) and SAM: ``loadcheck train``.

* :func:`loadcheck.train.detector.train_detector` with
  :class:`~loadcheck.train.detector.DetectorTrainSettings`: YOLOv6's own model and loss on a
  YOLO-format dataset; writes a checkpoint ``loadcheck export yolov6`` accepts.
* :func:`loadcheck.train.sam.train_sam` with
  :class:`~loadcheck.train.sam.SamTrainSettings`: a small SAM (``vit_tiny``) on box
  prompts, or a real SAM's mask decoder; writes a state dict ``loadcheck export sam`` accepts;
  both trainers resume an interrupted run (``--resume``) with the uninterrupted run's result.
* :class:`~loadcheck.train.common.TrainError`: every bad input, with what was expected.

Light to import: torch, yolov6 and segment-anything load inside the functions that use them.
"""

from loadcheck.train.common import TrainError

__all__ = ["TrainError"]
