"""The model repository's storage interface on a folder and on a real S3 server (moto)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loadcheck.serving.storage import ModelRepository, StorageError, open_repository
from loadcheck.serving.storage_s3 import S3Location, S3Repository


def _stage(folder: Path, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _publish(repo: ModelRepository, files: dict[str, bytes]) -> list[str]:
    with repo.staging() as staged:
        _stage(staged, files)
        return repo.publish(staged)


VERSION_1 = {
    "scorer_a/1/model.ubj": b"weights-1",
    "scorer_a/1/scorer.json": b"{}",
    "scorer_a/config.pbtxt": b'name: "scorer_a"',
    "loadcheck_repository.json": b'{"settings": {}}',
}


def test_published_files_are_read_and_listed(repository_at: Callable[[], ModelRepository]):
    repo = repository_at()
    _publish(repo, VERSION_1)
    assert repo.list_keys() == sorted(VERSION_1)
    assert repo.list_keys("scorer_a/1") == ["scorer_a/1/model.ubj", "scorer_a/1/scorer.json"]
    assert repo.read_bytes("scorer_a/1/model.ubj") == b"weights-1"
    assert repo.read_text("loadcheck_repository.json") == '{"settings": {}}'
    assert repo.read_bytes("scorer_a/2/model.ubj") is None
    assert repo.models() == ["scorer_a"]


def test_publishing_a_new_version_keeps_the_old_one_and_replaces_the_config(repository_at):
    repo = repository_at()
    _publish(repo, VERSION_1)
    _publish(
        repo,
        {"scorer_a/2/model.ubj": b"weights-2", "scorer_a/config.pbtxt": b'name: "scorer_a" v2'},
    )
    assert repo.read_bytes("scorer_a/1/model.ubj") == b"weights-1"
    assert repo.read_bytes("scorer_a/2/model.ubj") == b"weights-2"
    assert repo.read_bytes("scorer_a/config.pbtxt") == b'name: "scorer_a" v2'


def test_republishing_a_version_drops_the_files_it_no_longer_has(repository_at):
    repo = repository_at()
    _publish(repo, {"detector/1/model.onnx": b"onnx", "detector/config.pbtxt": b"a"})
    _publish(repo, {"detector/1/model.plan": b"plan", "detector/config.pbtxt": b"b"})
    assert repo.list_keys("detector") == ["detector/1/model.plan", "detector/config.pbtxt"]


def test_an_empty_version_folder_is_kept_for_an_ensemble(repository_at):
    repo = repository_at()
    with repo.staging() as staged:
        (staged / "integrator_a" / "1").mkdir(parents=True)
        (staged / "integrator_a" / "config.pbtxt").write_bytes(b"ensemble")
        repo.publish(staged)
    assert repo.list_keys("integrator_a") == [
        "integrator_a/1/.keep",
        "integrator_a/config.pbtxt",
    ] or (repo.local_folder is not None and (repo.local_folder / "integrator_a" / "1").is_dir())
    assert repo.models() == ["integrator_a"]


def test_write_bytes_replaces_one_file(repository_at):
    repo = repository_at()
    repo.write_bytes("loadcheck_deployed.json", b"one")
    repo.write_bytes("loadcheck_deployed.json", b"two")
    assert repo.read_bytes("loadcheck_deployed.json") == b"two"


def test_delete_model_removes_every_file_of_that_model_only(repository_at):
    repo = repository_at()
    _publish(repo, {**VERSION_1, "scorer_b/1/model.ubj": b"b", "scorer_b/config.pbtxt": b"b"})
    repo.delete_model("scorer_a")
    repo.delete_model("never_there")
    assert repo.list_keys("scorer_a") == []
    assert repo.models() == ["scorer_b"]
    assert repo.read_bytes("loadcheck_repository.json") is not None


def test_keys_that_leave_the_repository_are_refused(repository_at):
    repo = repository_at()
    with pytest.raises(StorageError, match="relative path"):
        repo.read_bytes("../outside")
    with pytest.raises(StorageError, match="relative path"):
        repo.write_bytes("/etc/passwd", b"x")


def test_a_polling_reader_sees_configs_and_manifest_only_after_every_version_file(new_bucket):
    repo = open_repository(f"s3://{new_bucket}/repo")
    assert isinstance(repo, S3Repository)
    _publish(repo, VERSION_1)  # an older version is being served
    staged_version = {
        "scorer_a/2/model.ubj": b"weights-2",
        "scorer_a/2/scorer.json": b"{}",
        "scorer_a/2/model.py": b"# adapter",
        "integrator_a/1/.keep": b"",
        "integrator_a/config.pbtxt": b"ensemble",
        "scorer_a/config.pbtxt": b'name: "scorer_a" versions: 2',
        "loadcheck_repository.json": b'{"settings": {"new": true}}',
    }
    version_files = [k for k in staged_version if "/config.pbtxt" not in k and "/" in k]
    seen: list[tuple[str, set[str], bytes | None, bytes | None]] = []
    # a second client, like a Triton replica, lists the bucket after every upload
    reader = open_repository(f"s3://{new_bucket}/repo")

    def look(key: str) -> None:
        listing = set(reader.list_keys())
        seen.append(
            (
                key,
                listing,
                reader.read_bytes("scorer_a/config.pbtxt"),
                reader.read_bytes("loadcheck_repository.json"),
            )
        )

    repo.on_put = look
    _publish(repo, staged_version)
    assert len(seen) == len(staged_version)
    for key, listing, config, manifest in seen:
        complete = all(k in listing for k in version_files)
        if config != VERSION_1["scorer_a/config.pbtxt"]:
            assert complete, f"new scorer config visible after {key} before every version file"
        if "integrator_a/config.pbtxt" in listing:
            assert complete, f"integrator config visible after {key} before every version file"
        if manifest != VERSION_1["loadcheck_repository.json"]:
            assert complete and config == staged_version["scorer_a/config.pbtxt"], (
                f"manifest visible after {key} before the version and its config"
            )
    assert seen[-1][0] == "loadcheck_repository.json"


@pytest.mark.parametrize(
    ("url", "bucket", "prefix", "endpoint", "triton"),
    [
        ("s3://models/repo", "models", "repo", None, "s3://models/repo"),
        ("s3://models", "models", "", None, "s3://models"),
        (
            "s3://127.0.0.1:9000/models/a/b/",
            "models",
            "a/b",
            "http://127.0.0.1:9000",
            "s3://127.0.0.1:9000/models/a/b",
        ),
        (
            "s3://https://minio.local:443/models/repo",
            "models",
            "repo",
            "https://minio.local:443",
            "s3://https://minio.local:443/models/repo",
        ),
    ],
)
def test_s3_urls_give_bucket_prefix_and_endpoint(
    url, bucket, prefix, endpoint, triton, monkeypatch
):
    monkeypatch.delenv("LOADCHECK_S3_ENDPOINT_URL", raising=False)
    location = S3Location.parse(url)
    assert (location.bucket, location.prefix, location.endpoint_url) == (bucket, prefix, endpoint)
    assert location.triton_url == triton


def test_the_endpoint_variable_applies_to_a_plain_s3_url(monkeypatch):
    monkeypatch.setenv("LOADCHECK_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert S3Location.parse("s3://models/repo").endpoint_url == "http://127.0.0.1:9000"
    assert S3Location.parse("s3://models/repo").triton_url == "s3://127.0.0.1:9000/models/repo"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "not a valid S3 bucket name"),
        ("s3://Bad_Bucket/repo", "not a valid S3 bucket name"),
        ("gs://models/repo", "expected a folder or s3://bucket/prefix"),
    ],
)
def test_a_bad_url_is_refused_with_the_expected_forms(url, message):
    with pytest.raises(StorageError, match=message):
        open_repository(url)


def test_a_missing_bucket_is_named(s3_env):
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        open_repository("s3://no-such-bucket/repo")


def test_missing_credentials_are_named(s3_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageError, match="no S3 credentials"):
        open_repository("s3://models/repo")


def test_an_unreachable_endpoint_is_named(s3_env, monkeypatch):
    monkeypatch.setenv("LOADCHECK_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    with pytest.raises(StorageError, match="cannot reach the S3 endpoint"):
        open_repository("s3://models/repo")
