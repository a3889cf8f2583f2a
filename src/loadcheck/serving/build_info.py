"""A repository build's identity: its id and the networks' model-card hashes.

``loadcheck repository build`` records a :class:`BuildInfo` in the manifest
(``loadcheck_repository.json``, key ``build``) and passes it to every ``scorer_<integrator>``
through its config parameters (:class:`~loadcheck.pipeline.scorer.ScorerSettings`), so that each
verdict names the build and the networks that produced it (``PROVENANCE_JSON``). A repository
built before builds had ids has no ``build`` key: its scorers report the build as unknown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loadcheck.pipeline.cards import NETWORK_KINDS, ExportedNetworks, card_path_for
from loadcheck.pipeline.scorer import ScorerSettings

#: Key of the build in the repository manifest.
BUILD_KEY = "build"


class BuildInfoError(ValueError):
    """The manifest's ``build`` entry is malformed; the message says how."""


def card_hashes(networks: ExportedNetworks) -> dict[str, str]:
    """Lowercase hex SHA-256 of each network's model card file (``<file>.card.json``), by
    network name (``detector``, ``sam_encoder``, ``sam_decoder``)."""
    return {
        kind: hashlib.sha256(card_path_for(networks.path(kind)).read_bytes()).hexdigest()
        for kind in NETWORK_KINDS
    }


@dataclass(frozen=True)
class BuildInfo:
    """One repository build.

    Attributes:
        id: ``<UTC time>-<16 hex>``: the time of the build and a hash of the cards, the
            settings and that time (two builds never share an id; it sorts by time).
        built_utc: ISO-8601 UTC time of the build.
        networks: model-card SHA-256 by network name.
    """

    id: str
    built_utc: str
    networks: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        networks: Mapping[str, str],
        settings: Mapping[str, Any],
        now: datetime | None = None,
    ) -> BuildInfo:
        """A fresh build of ``networks`` (card hashes) with the repository ``settings``."""
        when = (now or datetime.now(UTC)).astimezone(UTC)
        stamp = when.isoformat(timespec="microseconds")
        digest = hashlib.sha256(
            json.dumps(
                {"networks": dict(networks), "settings": settings, "at": stamp},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]
        return cls(f"{when:%Y%m%dT%H%M%SZ}-{digest}", stamp, dict(networks))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "built_utc": self.built_utc, "networks": dict(self.networks)}

    @classmethod
    def from_json(cls, data: Any) -> BuildInfo:
        if not isinstance(data, Mapping):
            raise BuildInfoError(f"build: expected an object, got {data!r}")
        try:
            return cls(
                str(data["id"]),
                str(data.get("built_utc", "")),
                {str(k): str(v) for k, v in dict(data.get("networks") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BuildInfoError(f"build: malformed ({exc!r})") from exc

    def scorer_settings(self) -> ScorerSettings:
        """The scorer's config parameters that carry this build into its answers."""
        return ScorerSettings(repository_build=self.id, networks=self.networks)


def scorer_settings(build: BuildInfo | None) -> ScorerSettings:
    """The scorer settings for a repository with ``build`` (none: provenance unknown)."""
    return build.scorer_settings() if build is not None else ScorerSettings()
