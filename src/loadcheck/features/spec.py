"""The load-geometry feature spec: names, order, ranges and the spec version.

Every fitted score model stores :data:`FEATURE_SPEC`'s version and names; a model fitted with
another version is refused at load time. Change ``version`` whenever a name, its order, its
formula or its range changes.

Notation used in the formulas (all in pixels of the original image, y grows downwards):

* the bed's columns ``x`` are the columns of its bounding box (``x1..x2``, width ``W_b``);
* ``rim(x)`` and ``floor(x)`` are straight lines through the medians of the bed's per-column top
  and bottom rows on its left and right halves (robust to notches and occlusions);
* ``h(x) = max(1, floor(x) - rim(x) + 1)`` is the bed height in column ``x`` and
  ``H_b = median(h)`` the bed height (at least 1 px);
* ``top(x)`` is the highest load pixel in column ``x``;
* ``z(x) = clip((rim(x) - top(x)) / h(x), -1, 2)``: the load height relative to the rim, in bed
  heights (0 at the rim, -1 at the floor, which is also the value of a column without load);
  ``m(x) = z(x) + 1`` is the height above the floor, in bed heights;
* ``B`` and ``L`` are the bed and load masks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureDef:
    """One feature: its name, documented range ``[low, high]`` and formula."""

    name: str
    low: float
    high: float
    formula: str


@dataclass(frozen=True)
class FeatureSpec:
    """An ordered, versioned list of features."""

    version: str
    features: tuple[FeatureDef, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def ranges(self) -> dict[str, tuple[float, float]]:
        return {f.name: (f.low, f.high) for f in self.features}

    def __len__(self) -> int:
        return len(self.features)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown feature {name!r}; known features: {', '.join(self.names)}"
            ) from None


MAX_PITS = 20

FEATURE_SPEC = FeatureSpec(
    version="lc-features-1",
    features=(
        FeatureDef(
            "fullness",
            0.0,
            1.0,
            "|L ∩ B| / |B|: share of the bed's loadable area occupied by the load (0 when the bed "
            "mask is empty)",
        ),
        FeatureDef(
            "fill_profile",
            0.0,
            1.0,
            "mean over bed columns of clip(m(x), 0, 1): share of the loadable height (floor to "
            "rim) filled, counting the load as solid below its top",
        ),
        FeatureDef(
            "volume_profile",
            0.0,
            3.0,
            "mean over bed columns of m(x): the height-profile integral over the bed width, "
            "in bed heights",
        ),
        FeatureDef(
            "volume_above_rim",
            0.0,
            2.0,
            "load pixels above rim(x) inside the bed columns / (W_b * H_b), clipped",
        ),
        FeatureDef(
            "volume_below_rim",
            0.0,
            1.0,
            "load pixels between rim(x) and floor(x) inside the bed columns / (W_b * H_b), clipped",
        ),
        FeatureDef("height_min", -1.0, 2.0, "min over bed columns of z(x)"),
        FeatureDef("height_p10", -1.0, 2.0, "10th percentile over bed columns of z(x)"),
        FeatureDef("height_mean", -1.0, 2.0, "mean over bed columns of z(x)"),
        FeatureDef("height_max", -1.0, 2.0, "max over bed columns of z(x)"),
        FeatureDef("height_std", 0.0, 1.5, "standard deviation over bed columns of z(x)"),
        FeatureDef(
            "roughness_pit_count",
            0.0,
            float(MAX_PITS),
            "number of hollows in the top contour: runs of columns where the water depth "
            "d(x) = min(max_{u<=x} s(u), max_{u>=x} s(u)) - s(x) exceeds 0.05 over at least "
            "1% of W_b, s = z smoothed over W_b / 64 columns; columns without load count as "
            "z = -1; capped at 20",
        ),
        FeatureDef(
            "roughness_pit_depth",
            0.0,
            3.0,
            "max over bed columns of d(x): depth of the deepest hollow in bed heights",
        ),
        FeatureDef(
            "roughness_pit_area",
            0.0,
            3.0,
            "mean over bed columns of d(x): area of the hollows / (W_b * H_b)",
        ),
        FeatureDef(
            "roughness_residual",
            0.0,
            1.5,
            "standard deviation of z(x) minus its moving average over W_b / 8 columns",
        ),
        FeatureDef(
            "balance_horizontal",
            -1.0,
            1.0,
            "(x-centroid of the profile mass m(x) minus the bed centre) / (W_b / 2): "
            "negative = load towards the image's left (front or back of the truck); 0 when empty",
        ),
        FeatureDef(
            "balance_difference",
            -3.0,
            3.0,
            "mean of m(x) over the right half of the bed columns minus over the left half, in bed "
            "heights (the middle column of an odd width belongs to neither)",
        ),
        FeatureDef(
            "balance_asymmetry",
            0.0,
            3.0,
            "|balance_difference|: front/back imbalance whichever way the truck faces",
        ),
        FeatureDef(
            "balance_vertical",
            -1.0,
            1.0,
            "(y-centroid of the load pixels minus the bed centre) / (H_b / 2), clipped; "
            "negative = load high in the image (near side for an elevated camera); 0 when empty",
        ),
        FeatureDef(
            "solidity",
            0.0,
            1.0,
            "load area / area of the load's convex hull; 0 when there is no load",
        ),
        FeatureDef(
            "rim_coverage",
            0.0,
            1.0,
            "share of bed columns where the load reaches the rim line (z(x) >= 0)",
        ),
        FeatureDef(
            "load_width_ratio",
            0.0,
            1.0,
            "share of bed columns that contain load",
        ),
        FeatureDef(
            "load_area_ratio",
            0.0,
            3.0,
            "all load pixels / (W_b * H_b), clipped",
        ),
        FeatureDef(
            "bed_aspect",
            0.0,
            20.0,
            "W_b / H_b, clipped (depends on the camera's view of the truck)",
        ),
        FeatureDef(
            "bed_area_fraction",
            0.0,
            1.0,
            "bed mask pixels / image pixels",
        ),
        FeatureDef("bed_confidence", 0.0, 1.0, "detector score of the bed (1 for given masks)"),
        FeatureDef("load_confidence", 0.0, 1.0, "detector score of the load (0 when no load)"),
        FeatureDef("bed_mask_iou", 0.0, 1.0, "SAM's predicted IoU of the bed mask (1 if given)"),
        FeatureDef(
            "load_mask_iou", 0.0, 1.0, "SAM's predicted IoU of the load mask (0 when no load)"
        ),
    ),
)

FEATURE_NAMES: tuple[str, ...] = FEATURE_SPEC.names
