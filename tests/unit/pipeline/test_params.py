"""StepSettings: typed settings to config.pbtxt string parameters and back."""

from __future__ import annotations

import dataclasses
from enum import StrEnum

import pytest

from loadcheck.pipeline.masks import MasksSettings
from loadcheck.pipeline.params import Codec, ParamsError, StepSettings
from loadcheck.pipeline.preprocess import PreprocessSettings
from loadcheck.pipeline.prompts import PromptsSettings, SamFrame


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Example(StepSettings):
    count: int
    ratio: float = 0.5
    name: str = "a"
    flag: bool = False
    colour: Colour = Colour.RED
    sizes: tuple[int, ...] = (1, 2)
    maybe: int | None = None
    upper: str = dataclasses.field(
        default="X", metadata={"codec": Codec(str.lower, str.upper), "missing": "OLD"}
    )

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count: expected >= 0, got {self.count}")


def test_every_field_type_survives_a_round_trip_through_strings() -> None:
    settings = Example(3, 0.1, "b", True, Colour.BLUE, (4, 5, 6), 7, "Y")
    params = settings.to_params()
    assert all(isinstance(v, str) for v in params.values())
    assert params["colour"] == "blue" and params["sizes"] == "4,5,6" and params["upper"] == "y"
    assert Example.from_params(params) == settings


def test_a_missing_parameter_takes_its_legacy_value_then_its_default() -> None:
    settings = Example.from_params({"count": "1"})
    assert settings == Example(1, upper="OLD")


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(ParamsError, match="'count' is missing"):
        Example.from_params({})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": "three"}, "parameter 'count': expected an integer, got 'three'"),
        ({"count": "1", "ratio": "nan"}, "parameter 'ratio': expected a finite number"),
        ({"count": "1", "flag": "maybe"}, "parameter 'flag': expected true or false"),
        ({"count": "1", "colour": "green"}, "expected one of \\['red', 'blue'\\]"),
        ({"count": "1", "sizes": "1,x"}, "parameter 'sizes': expected comma-separated integers"),
        ({"count": "-1"}, "count: expected >= 0, got -1"),
    ],
)
def test_a_parameter_that_does_not_parse_says_which_and_what_is_expected(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(ParamsError, match=message):
        Example.from_params(params)


@pytest.mark.parametrize(
    "settings",
    [
        PreprocessSettings(480, 640, 0, max_pixels=1000),
        PromptsSettings(0.3, 0.5, 8, 512, SamFrame.WHOLE, (1, 2, 3), {"bed": 1, "load": 0}, 2),
        MasksSettings(256, 0.0, 0.2),
    ],
)
def test_the_steps_settings_round_trip(settings: StepSettings) -> None:
    assert type(settings).from_params(settings.to_params()) == settings


def test_a_repository_from_before_mask_refinement_stays_unrefined() -> None:
    assert not MasksSettings.from_params({"sam_img_size": "512"}).refinement.enabled


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"class_map": "bed=0,truck=1"}, "class map item 'truck=1'"),
        ({"class_map": "bed=0,load=2", "num_classes": "2"}, "ids must lie in 0..1"),
        ({"sam_img_size": "500"}, "multiple of 16"),
        ({"conf_thres": "1.5"}, "must be in \\[0, 1\\]"),
    ],
)
def test_prompts_settings_refuse_what_cannot_be_served(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(ParamsError, match=message):
        PromptsSettings.from_params(params)
