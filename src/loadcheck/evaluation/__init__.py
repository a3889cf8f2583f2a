"""How good the models and the verdicts are: the benchmarks' code, measured on what is served.

Every evaluation runs the served pipeline's own steps in-process
(:class:`~loadcheck.pipeline.runner.PipelineRunner`); the scripts in ``benchmarks/`` are thin
command lines over these modules.

Building blocks:

* :mod:`~loadcheck.evaluation.scenes` — held-out synthetic scenes with their truth
  (:class:`~loadcheck.evaluation.scenes.TruthScene`), rendered once and cached as ``.npz``;
* :mod:`~loadcheck.evaluation.served` — the served segmentator on those scenes
  (:class:`~loadcheck.evaluation.served.ServedPipeline`: detections at any threshold, masks of
  any prompts in any SAM frame, the served trucks);
* :mod:`~loadcheck.evaluation.metrics` — box and mask IoU, detection matching, AP and the
  accumulators (per class, box precision, load fill);
* :mod:`~loadcheck.evaluation.oracles` — versions of the scored truck with true masks swapped
  in, prompts from the truth, fitting an integrator and scoring its verdicts;
* :mod:`~loadcheck.evaluation.significance` — Wilson intervals, the exact McNemar test;
* :mod:`~loadcheck.evaluation.report`, :mod:`~loadcheck.evaluation.timing`,
  :mod:`~loadcheck.evaluation.arguments` — JSON, tables, latency figures, the CLIs' options.

The benchmarks (one module each, the script named beside it):

* :mod:`~loadcheck.evaluation.model_quality` — detector AP, mask IoU, load fill
  (``eval_demo_models.py``);
* :mod:`~loadcheck.evaluation.verdict_accuracy` — verdict accuracy per mask version, fitting
  curve, paired comparisons (``verdict_oracles.py``);
* :mod:`~loadcheck.evaluation.checkpoint_verdicts` — a SAM training checkpoint prompted with the
  true boxes (``sam_verdicts.py``);
* :mod:`~loadcheck.evaluation.baseline` — the replaced single-process system
  (``baseline_inprocess.py``).
"""
