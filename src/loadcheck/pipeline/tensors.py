"""``TensorSpec``: one tensor's name, dtype and shape, the one description every layer shares.

Model cards list the exported networks' tensors with it, pipeline steps declare their inputs and
outputs with it, the Triton configs are generated from it and the Python-backend adapter checks
requests against it. Shapes use ``-1`` for a dynamic dimension; ``dim_names`` (optional) names
each dimension (``"B"`` batch, ``"K"`` prompt boxes, ``"N"`` detections, ``"S"``/``"H"``/``"W"``
pixels, ``"C"`` channels or classes) so that TensorRT profiles and Triton configs can tell a
batch axis from a box axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: dtype names a tensor may have (numpy names; ``"bytes"`` is Triton's BYTES/TYPE_STRING).
DTYPES: dict[str, Any] = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "float32": np.float32,
    "bytes": np.object_,
}
#: The Triton ``TYPE_*`` of each dtype name.
TRITON_TYPES: dict[str, str] = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "bytes": "TYPE_STRING",
}
BATCH_DIM = "B"


class TensorSpecError(ValueError):
    """A tensor description, or an array checked against one, is malformed."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor.

    Attributes:
        name: a constant of :mod:`loadcheck.tensor_names`.
        dtype: a key of :data:`DTYPES` (``"uint8"``, ``"float32"``, ``"bytes"``...).
        shape: full shape, ``-1`` for a dynamic dimension (the batch axis included, if any).
        dim_names: one symbolic name per dimension, or empty when unnamed.
        optional: an input a request may leave out.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    dim_names: tuple[str, ...] = ()
    optional: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise TensorSpecError(
                f"tensor {self.name!r}: dtype {self.dtype!r} is not one of {sorted(DTYPES)}"
            )
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dim_names", tuple(str(n) for n in self.dim_names))
        if self.dim_names and len(self.shape) != len(self.dim_names):
            raise TensorSpecError(
                f"tensor {self.name!r}: shape {self.shape} and dim_names {self.dim_names} "
                "must have the same length"
            )
        if any(d < -1 or d == 0 for d in self.shape):
            raise TensorSpecError(
                f"tensor {self.name!r}: dims must be positive or -1, got {self.shape}"
            )

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(DTYPES[self.dtype])

    @property
    def triton_type(self) -> str:
        return TRITON_TYPES[self.dtype]

    @property
    def has_batch_axis(self) -> bool:
        """Whether the first dimension is named the batch (``"B"``)."""
        return bool(self.dim_names) and self.dim_names[0] == BATCH_DIM

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """Axis index -> symbolic name, for the dynamic (``-1``) axes only."""
        names = self.dim_names or tuple(f"d{i}" for i in range(len(self.shape)))
        return {i: n for i, (d, n) in enumerate(zip(self.shape, names, strict=True)) if d < 0}

    def with_shape(self, shape: Sequence[int]) -> TensorSpec:
        """The same tensor with another shape (dimension names dropped when the rank changes)."""
        names = self.dim_names if len(shape) == len(self.shape) else ()
        return TensorSpec(self.name, self.dtype, tuple(shape), names, self.optional)

    def check(self, array: np.ndarray, *, batched: bool = False) -> np.ndarray:
        """``array`` when its dtype and shape fit this spec, else :class:`TensorSpecError`.

        With ``batched`` the array may carry one more leading (batch) axis than the spec.
        Dimensions of ``-1`` accept any size, zero included.
        """
        value = np.asarray(array)
        want = self.numpy_dtype
        if value.dtype != want and not (want == np.object_ and value.dtype.kind in "OSU"):
            raise TensorSpecError(
                f"input {self.name!r}: expected dtype {self.dtype}, got {value.dtype}"
            )
        shape = self.shape
        got = value.shape[1:] if batched and value.ndim == len(shape) + 1 else value.shape
        if len(got) != len(shape) or any(d not in (-1, g) for d, g in zip(shape, got, strict=True)):
            raise TensorSpecError(
                f"input {self.name!r}: expected shape {list(shape)} (-1: any), got {list(got)}"
            )
        return value

    def to_dict(self) -> dict[str, Any]:
        """The card JSON form (``optional`` only when set)."""
        out: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "dim_names": list(self.dim_names),
        }
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(
            name=str(data["name"]),
            dtype=str(data["dtype"]),
            shape=tuple(int(d) for d in data["shape"]),
            dim_names=tuple(str(n) for n in data.get("dim_names", ())),
            optional=bool(data.get("optional", False)),
        )


def spec(name: str, dtype: str, *shape: int, optional: bool = False) -> TensorSpec:
    """Shorthand for steps' declarations: ``spec(tn.LETTERBOX, "float32", 3)``."""
    return TensorSpec(name, dtype, tuple(shape), optional=optional)
