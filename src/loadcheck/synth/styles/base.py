"""The typed interface every scene style implements, and the scene description they all draw.

A :class:`SceneDescription` says *what* a scene holds: its trucks (each with its load's height
profile and its truth: fill level, pit depth, balance and verdict by :mod:`loadcheck.synth.rules`),
the mineral and the occluder. A :class:`SceneStyle` says *how* it looks: it renders a description
into a :class:`~loadcheck.synth.scene.Scene` with its own truck bodies, camera, lens, palette,
textures, lighting, clutter and background. The truths (and so the labels) come from the
description, never from the style: the same ``(seed, index)`` has the same labels in every style.

The description is drawn by the ``classic`` style (the original renderer, unchanged): its trucks
in its prominence order, with the truths it measured. Other styles draw every described truck
fully in view, nearest (most prominent) first, so prominence order and the image label carry over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from loadcheck.payloads import Verdict
from loadcheck.synth.scene import Scene


@dataclass(frozen=True)
class TruckDescription:
    """One truck of a scene description.

    Attributes:
        profile: float64 ``[PROFILE_STATIONS]`` load height along the bed, front first, in bed
            heights (see :mod:`loadcheck.synth.profiles`).
        load_shape: the profile's shape name (``empty`` without load).
        facing: ``"left"`` when the cab is on the left of the bed, else ``"right"``.
        fill_level / pit_depth / balance: the truths of :mod:`loadcheck.synth.rules`.
        label: the truck's verdict by :func:`loadcheck.synth.rules.truck_verdict`.
    """

    profile: np.ndarray
    load_shape: str
    facing: str
    fill_level: float
    pit_depth: float
    balance: float
    label: Verdict

    @property
    def has_load(self) -> bool:
        return self.label is not Verdict.NO_MINE_DETECTED


@dataclass(frozen=True)
class SceneDescription:
    """What one scene holds, whatever style draws it.

    Attributes:
        seed / index: identity of the scene.
        trucks: most prominent first (the order every style keeps).
        label: the image verdict (:func:`loadcheck.synth.rules.image_verdict` of ``trucks``).
        mineral: the load's mineral (:data:`loadcheck.synth.textures.MINERALS`).
        occluder: ``none``, ``pole`` or ``loader`` (a loader never hides the load).
        view: the classic style's camera view (other styles choose their own camera).
    """

    seed: int
    index: int
    trucks: tuple[TruckDescription, ...]
    label: Verdict
    mineral: str
    occluder: str
    view: str


@runtime_checkable
class SceneStyle(Protocol):
    """A renderer of scene descriptions: one module of :mod:`loadcheck.synth.styles` each."""

    name: str
    summary: str

    def render(
        self, description: SceneDescription, size_wh: tuple[int, int], classic: Scene
    ) -> Scene:
        """The scene of ``description`` at ``size_wh`` (``classic``: the classic rendering the
        description was taken from, which the classic style returns as it is)."""
        ...
