"""The gateway's time and count limits, with their defaults (``loadcheck gateway`` options)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 60.0
DEFAULT_MIN_BODY_RATE_KIB_S = 8.0
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_MAX_IN_FLIGHT = 16
#: Seconds at the start of a body during which the minimum rate is not enforced.
RATE_GRACE_S = 5.0


def body_deadline_s(
    received: int, timeout_s: float, min_rate_bytes_s: float, grace_s: float = RATE_GRACE_S
) -> float:
    """Seconds after a body's start by which more of it must arrive, ``received`` bytes so far:
    the whole body within ``timeout_s``, and ``min_rate_bytes_s * (t - grace_s)`` bytes by ``t``
    (no rate when ``min_rate_bytes_s`` is 0)."""
    if min_rate_bytes_s <= 0:
        return timeout_s
    return min(timeout_s, grace_s + received / min_rate_bytes_s)


@dataclass(frozen=True)
class GatewayLimits:
    """Time and count limits of the gateway (sizes: ``max_body_bytes`` of ``create_app``).

    Attributes:
        header_timeout_s: seconds for a request line and its headers.
        body_timeout_s: seconds for a whole request body.
        min_body_rate_bytes_s: slowest accepted body rate after the first seconds (0: none).
        max_connections: open connections served; requests on more are answered 503.
        max_in_flight: uploads processed at once (body, check, inference); more are 503.
    """

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    min_body_rate_bytes_s: float = DEFAULT_MIN_BODY_RATE_KIB_S * 1024
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected > 0 seconds, got {getattr(self, name)}")
        if self.min_body_rate_bytes_s < 0:
            raise ValueError(
                f"min_body_rate_bytes_s: expected >= 0, got {self.min_body_rate_bytes_s}"
            )
        for name in ("max_connections", "max_in_flight"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
