"""``classic``: the original renderer (:func:`loadcheck.synth.render.render_scene`), unchanged.

It draws the scene descriptions every other style renders, so its output is both the classic
style's scene and the source of the description (see :func:`describe`).
"""

from __future__ import annotations

from loadcheck.synth.scene import Scene
from loadcheck.synth.styles.base import SceneDescription, TruckDescription


def describe(scene: Scene) -> SceneDescription:
    """The description of a classic scene: its trucks in prominence order with their truths."""
    trucks = tuple(
        TruckDescription(
            profile=t.profile,
            load_shape=t.load_shape,
            facing=t.facing,
            fill_level=t.fill_level,
            pit_depth=t.pit_depth,
            balance=t.balance,
            label=t.label,
        )
        for t in scene.trucks
    )
    return SceneDescription(
        seed=scene.seed,
        index=scene.index,
        trucks=trucks,
        label=scene.label,
        mineral=scene.mineral,
        occluder=scene.occluder,
        view=scene.view,
    )


class ClassicStyle:
    """Sunny/dusk/night open pits, side/rear/elevated views, the original truck bodies."""

    name = "classic"
    summary = "the original renderer: day/dusk/night pits, three views, the original bodies"

    def render(
        self, description: SceneDescription, size_wh: tuple[int, int], classic: Scene
    ) -> Scene:
        return classic
