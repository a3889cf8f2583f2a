"""Serving the pipeline on NVIDIA Triton: model repository, the Python-backend adapter, launcher.

Modules:
    config      typed ``config.pbtxt`` objects rendered through protobuf text format
    layout      configs generated from the pipeline's declaration (steps, ensembles, model.py)
    runtimes    per-network runtime registry (python-onnxruntime, onnxruntime, tensorrt,
                python-torch)
    repository  the repository builder (``loadcheck repository build``) and its manifest
    backend     the one ``TritonPythonModel``: builds a model's step from its config and runs it
    server      ``TritonServer``: the tritonserver launcher (``loadcheck serve``)
    deploy      integrator deploy / undeploy through Triton's model-control API
    state       which models the server loads at start
    replicas    ``deploy --wait``: until every Triton replica serves the published state
"""
