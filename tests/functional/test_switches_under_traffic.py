"""Deploy, rollback and a segmentator rebuild on a live server while threads keep asking
``integrator_<name>`` for verdicts.

What a plant relies on: a switch never fails a request (Triton keeps serving the loaded version
until the new one is ready, and lets in-flight requests finish on the old one), every answer is
a verdict of the public contract, each answer is the old or the new version's (never a mix of
two scorer versions), and once a switch has returned every answer is the new version's, as the
in-process :class:`~loadcheck.pipeline.runner.PipelineRunner` computes it from the repository.

The segmentator's models reload one at a time, but only the step that holds the detector's
threshold (``prompts``) changes, so an answer is the old settings' or the new ones', never a third.

The test has its own repository and server (switching the session ``triton`` would change what
other tests see). The tiny detector finds no loaded truck, so every verdict is "No Mine
Detected" with probability 0: the scorer versions differ by their thresholds, the segmentator
settings by the boxes the detector keeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from serving_helpers import Worker, build_repository_for_test, fit_version, join_workers

from loadcheck import tensor_names as tn

pytestmark = [pytest.mark.triton, pytest.mark.torch, pytest.mark.slow]

NAME = "traffic_site"
THRESHOLDS = {1: 0.35, 2: 0.65}  # scorer version -> its threshold
CONF_THRES = (0.3, 0.65)  # the detector's confidence threshold before / after the rebuild
THREADS = 2
PHOTOS = 2
ANSWERS_AFTER_SWITCH = 2  # per photo, asked after a switch returned, before the next one


@dataclass(frozen=True)
class Verdict:
    """What an answer is compared on: the verdict, its numbers and the detector's boxes."""

    score_result: str
    probability: float
    threshold: float
    boxes_xyxy: np.ndarray

    def same_as(self, other: Verdict) -> bool:
        return (
            self.score_result == other.score_result
            and abs(self.probability - other.probability) <= 1e-5
            and abs(self.threshold - other.threshold) <= 1e-6
            and self.boxes_xyxy.shape == other.boxes_xyxy.shape
            and bool(np.allclose(self.boxes_xyxy, other.boxes_xyxy, atol=1e-3))
        )


@dataclass(frozen=True)
class Answer:
    """One request: which photo, when it was sent and answered (monotonic seconds), and the
    verdict or the error as the client classifies it."""

    photo: int
    sent_s: float
    answered_s: float
    verdict: Verdict | None
    error: Exception | None


def _verdict(result) -> Verdict:  # type: ignore[no-untyped-def]
    return Verdict(
        result.score_result.value,
        float(result.probability),
        float(result.threshold),
        np.asarray(result.detections.xyxy, np.float32).reshape(-1, 4),
    )


class Traffic:
    """``THREADS`` clients asking ``model`` for the verdicts of ``photos`` in turn until
    stopped; every answer is kept."""

    def __init__(self, url: str, model: str, photos: Sequence[bytes]) -> None:
        self.url, self.model, self.photos = url, model, list(photos)
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.workers = [Worker(self._ask, i, name=f"client {i}") for i in range(THREADS)]

    def _ask(self, first: int) -> None:
        import tritonclient.http as httpclient

        from loadcheck.client.decode import INTEGRATOR_OUTPUTS, decode_inspection
        from loadcheck.client.transport import classify_error

        client = httpclient.InferenceServerClient(self.url, network_timeout=120.0)
        asked = [httpclient.InferRequestedOutput(name) for name in INTEGRATOR_OUTPUTS]
        index = first
        try:
            while not self._stop.is_set():
                photo = index % len(self.photos)
                index += 1
                image = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
                image.set_data_from_numpy(np.array([self.photos[photo]], np.object_))
                sent = time.monotonic()
                verdict, error = None, None
                try:
                    result = client.infer(self.model, [image], outputs=asked)
                    outputs = {name: result.as_numpy(name) for name in INTEGRATOR_OUTPUTS}
                    verdict = _verdict(decode_inspection(outputs, model=self.model))
                except Exception as exc:  # measured: the test asserts on every error
                    error = classify_error(exc, url=self.url, model=self.model)
                with self._lock:
                    self.answers.append(Answer(photo, sent, time.monotonic(), verdict, error))
        finally:
            client.close()

    def __enter__(self) -> Traffic:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        join_workers(self.workers, timeout_s=120)

    def since(self, moment_s: float) -> list[Answer]:
        """The answers to requests sent after ``moment_s``."""
        with self._lock:
            return [a for a in self.answers if a.sent_s > moment_s]

    def wait_for_answers_sent_after(self, moment_s: float, timeout_s: float = 60.0) -> None:
        """Until every photo has ``ANSWERS_AFTER_SWITCH`` answers to requests sent after
        ``moment_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            counts = [0] * len(self.photos)
            for answer in self.since(moment_s):
                counts[answer.photo] += 1
            if min(counts) >= ANSWERS_AFTER_SWITCH:
                return
            alive = [w for w in self.workers if w.is_alive()]
            if not alive:
                join_workers(self.workers, timeout_s=1)  # re-raises why they died
            time.sleep(0.05)
        pytest.fail(f"fewer than {ANSWERS_AFTER_SWITCH} answers per photo in {timeout_s:.0f} s")


@dataclass(frozen=True)
class Switch:
    """A switch: its name, when it started and returned, and the verdicts before and after."""

    name: str
    started_s: float
    returned_s: float
    before: list[Verdict]
    after: list[Verdict]

    def overlaps(self, answer: Answer) -> bool:
        """Whether the request was in flight while the switch ran."""
        return self.started_s < answer.answered_s and answer.sent_s < self.returned_s


@pytest.fixture
def live_repository(
    tiny_models: Path, fit_integrator: Callable[..., Path], tmp_path: Path
) -> Iterator[tuple[Path, str, str]]:
    """(repository, HTTP url, API key) of a server of its own serving ``integrator_<NAME>`` at
    scorer version 1 (version 2 fitted beside it)."""
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.server import TritonServer

    repository = tmp_path / "model_repository"
    build_repository_for_test(tiny_models, repository, conf_thres=CONF_THRES[0])
    for version, threshold in THRESHOLDS.items():
        fit_version(fit_integrator, repository, NAME, version, threshold)
    deploy(repository, NAME, version=1, home=tmp_path / "no-workspace")
    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        api_key="switch-key",
        log_path=tmp_path / "tritonserver.log",
        startup_timeout_s=240,
    )
    with server:
        yield repository, server.http_url, "switch-key"


def test_deploy_rollback_and_a_segmentator_rebuild_fail_no_request_under_traffic(
    live_repository, tiny_models, scene_jpegs
):
    from loadcheck.pipeline.declaration import SEGMENTATOR_MODELS
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.deploy import ModelControl, deploy

    repository, url, api_key = live_repository
    control = ModelControl(url, api_key)
    model = tn.integrator_model_name(NAME)
    photos = scene_jpegs[:PHOTOS]

    def in_process() -> list[Verdict]:
        runner = PipelineRunner.from_repository(repository, model)
        return [_verdict(runner.inspect(photo)) for photo in photos]

    def deploy_version(version: int) -> Callable[[], None]:
        return lambda: deploy(repository, NAME, version=version, control=control)

    def rebuild_segmentator() -> None:
        build_repository_for_test(tiny_models, repository, conf_thres=CONF_THRES[1])
        for name in (*SEGMENTATOR_MODELS, tn.SEGMENTATOR_ENSEMBLE):
            control.load(name)

    switches: list[Switch] = []
    with Traffic(url, model, photos) as traffic:
        before = in_process()
        traffic.wait_for_answers_sent_after(time.monotonic())
        for name, switch in (
            ("deploy version 2", deploy_version(2)),
            ("roll back to version 1", deploy_version(1)),
            (f"rebuild with --conf-thres {CONF_THRES[1]}", rebuild_segmentator),
        ):
            started = time.monotonic()
            switch()
            returned = time.monotonic()
            after = in_process()
            switches.append(Switch(name, started, returned, before, after))
            traffic.wait_for_answers_sent_after(returned)
            before = after
    answers = traffic.answers

    # Each switch changes what is compared: thresholds 0.35 -> 0.65 -> 0.35, then fewer boxes.
    assert [s.after[0].threshold for s in switches] == pytest.approx([0.65, 0.35, 0.35])
    rebuild = switches[2]
    assert all(
        len(new.boxes_xyxy) < len(old.boxes_xyxy)
        for old, new in zip(rebuild.before, rebuild.after, strict=True)
    )

    failed = [a for a in answers if a.error is not None]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: " + "; ".join(
        f"{type(a.error).__name__}: {a.error}" for a in failed[:5]
    )
    for answer in answers:
        assert answer.verdict is not None  # decoded: a verdict of the public contract
        during = [s for s in switches if s.overlaps(answer)]
        if during:  # in flight during a switch: the old answer or the new one, never a mix
            allowed = [v[answer.photo] for s in during for v in (s.before, s.after)]
        else:  # sent after a switch returned: the new answer only
            settled = [s.after for s in switches if s.returned_s < answer.sent_s]
            allowed = [(settled[-1] if settled else switches[0].before)[answer.photo]]
        assert any(answer.verdict.same_as(v) for v in allowed), (answer, [s.name for s in during])
    for switch in switches:
        overlapping = [a for a in answers if switch.overlaps(a)]
        print(
            f"{switch.name}: {switch.returned_s - switch.started_s:.1f} s, "
            f"{len(overlapping)} requests in flight meanwhile"
        )
        assert overlapping, f"{switch.name}: no request was in flight during the switch"
    print(f"{len(answers)} requests, none failed")
