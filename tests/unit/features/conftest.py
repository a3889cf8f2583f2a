from __future__ import annotations

import numpy as np
import pytest
from feature_shapes import bed_rect


@pytest.fixture
def bed() -> np.ndarray:
    """Bed x 100..499 (W_b = 400), y 200..299 (H_b = 100) in a 640 x 400 image; rim at row 200."""
    return bed_rect()
