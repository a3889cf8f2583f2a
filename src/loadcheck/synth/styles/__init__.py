"""Scene styles: independently written renderers of the same scene descriptions.

* :data:`STYLES` the registry (name -> :class:`~loadcheck.synth.styles.base.SceneStyle`),
  :data:`DEFAULT_STYLE` ``classic`` (the original renderer, byte-identical output).
* :func:`render_styled` ``(seed, index, size_wh, style, **overrides) -> Scene``.
* :func:`parse_styles` for ``--style`` (one name, comma-separated names, or ``all``).

Labels never depend on the style: every style renders the description the classic renderer
draws for ``(seed, index, size, overrides)`` and keeps its truths (see
:mod:`loadcheck.synth.styles.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from loadcheck.synth.scene import Scene
from loadcheck.synth.styles.base import SceneDescription, SceneStyle, TruckDescription
from loadcheck.synth.styles.classic import ClassicStyle, describe
from loadcheck.synth.styles.compose import StyleKit, render_composed
from loadcheck.synth.styles.dust import DustStyle
from loadcheck.synth.styles.night import NightStyle
from loadcheck.synth.styles.quarry import QuarryStyle

DEFAULT_STYLE: Final = "classic"
ALL: Final = "all"


class ComposedStyle:
    """A :class:`SceneStyle` from a :class:`~loadcheck.synth.styles.compose.StyleKit`."""

    def __init__(self, kit: StyleKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.summary = kit.summary

    def render(
        self, description: SceneDescription, size_wh: tuple[int, int], classic: Scene
    ) -> Scene:
        return render_composed(self.kit, description, size_wh)


STYLES: Final[dict[str, SceneStyle]] = {
    "classic": ClassicStyle(),
    "quarry": ComposedStyle(QuarryStyle()),
    "night": ComposedStyle(NightStyle()),
    "dust": ComposedStyle(DustStyle()),
}
STYLE_NAMES: Final = tuple(STYLES)


def parse_styles(text: str) -> tuple[str, ...]:
    """``"classic"``, ``"quarry,night"`` or ``"all"`` -> style names (registry order for
    ``all``, else as given, duplicates dropped); :class:`ValueError` names an unknown one."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ValueError(
            f"style: got {text!r}, expected one of {list(STYLE_NAMES)}, a list, or 'all'"
        )
    if ALL in names:
        if len(names) > 1:
            raise ValueError(f"style: 'all' cannot be combined with other names, got {text!r}")
        return STYLE_NAMES
    unknown = [n for n in names if n not in STYLES]
    if unknown:
        raise ValueError(
            f"style: unknown {unknown}; expected one of {list(STYLE_NAMES)}, "
            "comma-separated, or 'all'"
        )
    return tuple(dict.fromkeys(names))


def scene_style(index: int, styles: Sequence[str]) -> str:
    """The style that draws scene ``index`` of a set drawn in ``styles``: ``styles[index % n]``
    (``loadcheck synth --style a,b``, :func:`loadcheck.synth.dataset.write_dataset`)."""
    if not styles:
        raise ValueError("styles: expected at least one style")
    return styles[index % len(styles)]


def render_styled(
    seed: int,
    index: int,
    size_wh: tuple[int, int] = (960, 540),
    style: str = DEFAULT_STYLE,
    **overrides: Any,
) -> Scene:
    """Scene ``index`` of ``seed`` drawn by ``style`` (overrides as
    :func:`loadcheck.synth.render.render_scene`; they shape the description)."""
    from loadcheck.synth.render import render_scene

    if style not in STYLES:
        raise ValueError(f"style: got {style!r}, expected one of {list(STYLE_NAMES)}")
    classic = render_scene(seed, index, size_wh, **overrides)
    return STYLES[style].render(describe(classic), classic.size_wh, classic)


__all__ = [
    "ALL",
    "DEFAULT_STYLE",
    "STYLES",
    "STYLE_NAMES",
    "SceneDescription",
    "SceneStyle",
    "TruckDescription",
    "describe",
    "parse_styles",
    "render_styled",
    "scene_style",
]
