"""``TritonPythonModel`` adapters for Triton's Python backend.

Each generated ``model.py`` in the repository is one import line pointing here, so the code that
runs inside Triton is the installed, tested package. These modules import
``triton_python_backend_utils``, which exists only inside the Python-backend stub: import them
from Triton, never from library code. They unpack tensors, call pure functions of
``loadcheck.serving`` / ``loadcheck.features`` / ``loadcheck.scoring``, and pack responses; an
error in one request becomes an ``INVALID_ARG`` response naming the input and the reason.
"""
