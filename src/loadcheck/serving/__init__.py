"""Serving loadcheck on NVIDIA Triton: model repository, Python-backend models, launcher, deploy.

Modules:
    config      typed ``config.pbtxt`` objects rendered through protobuf text format
    images      image decoding (magic bytes, pixel limit, EXIF, RGB) and letterboxing
    prompts     YOLO decoding, NMS, SAM region and prompt boxes
    masks       SAM low-resolution logits to binary masks at the original resolution
    runtimes    per-network runtime registry (python-onnxruntime, onnxruntime, tensorrt)
    repository  the repository builder (``loadcheck repository build``)
    server      ``TritonServer``: the tritonserver launcher (``loadcheck serve``)
    deploy      integrator deploy / undeploy through Triton's model-control API
    pipeline    the same pipeline in one process (equivalence tests, baseline)
    backends    thin ``TritonPythonModel`` adapters imported by the generated ``model.py`` files
"""
