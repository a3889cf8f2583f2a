"""A model repository in an S3 bucket (AWS S3, MinIO, Ceph RGW) through boto3.

The location is ``s3://bucket/prefix`` with the endpoint from ``$LOADCHECK_S3_ENDPOINT_URL``
(else boto3's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS), or one of the forms
Triton reads, which carry the endpoint: ``s3://host:port/bucket/prefix`` (HTTP) and
``s3://https://host:port/bucket/prefix``. Credentials and region are boto3's: ``AWS_*``
variables, the shared config files, or the pod's identity.

Object storage has no rename, so :meth:`S3Repository.publish` orders the uploads instead: a
version's files, then the model's ``config.pbtxt``, then the manifest and deploy state; Triton
(poll mode) sees a model only once its config exists and reloads it when the config changes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadcheck.environment import S3_ENDPOINT_URL
from loadcheck.serving.storage import (
    CONFIG_FILE,
    S3_SCHEME,
    ModelRepository,
    StorageError,
    check_key,
    staged_files,
)

LOGGER = logging.getLogger(__name__)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d+$")


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://`` repository location.

    Attributes:
        bucket: the bucket name.
        prefix: the repository's folder in the bucket, no leading or trailing ``/`` (``""``: root).
        endpoint_url: ``http[s]://host:port`` of an S3-compatible store, ``None``: boto3's default.
    """

    bucket: str
    prefix: str
    endpoint_url: str | None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith(S3_SCHEME):
            raise StorageError(f"{url!r}: expected s3://bucket/prefix")
        rest = url[len(S3_SCHEME) :]
        endpoint: str | None = None
        for scheme in ("http://", "https://"):
            if rest.startswith(scheme):
                host, _, rest = rest[len(scheme) :].partition("/")
                endpoint = scheme + host
        if endpoint is None:
            first = rest.split("/", 1)[0]
            if _HOST_PORT.match(first):
                endpoint = "http://" + first
                rest = rest[len(first) + 1 :]
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.match(bucket):
            raise StorageError(
                f"{url!r}: bucket {bucket!r} is not a valid S3 bucket name; expected "
                "s3://bucket/prefix, s3://host:port/bucket/prefix or "
                "s3://https://host:port/bucket/prefix"
            )
        return cls(bucket, prefix.strip("/"), endpoint or S3_ENDPOINT_URL.get())

    @property
    def triton_url(self) -> str:
        """The same location in the form ``tritonserver --model-repository`` reads."""
        path = f"{self.bucket}/{self.prefix}".rstrip("/")
        if self.endpoint_url is None:
            return f"{S3_SCHEME}{path}"
        if self.endpoint_url.startswith("http://"):
            return f"{S3_SCHEME}{self.endpoint_url[len('http://') :]}/{path}"
        return f"{S3_SCHEME}{self.endpoint_url}/{path}"


class S3Repository(ModelRepository):
    """A repository under ``s3://bucket/prefix``.

    ``on_put`` (tests, progress) is called with each key after it is uploaded.
    """

    def __init__(self, location: S3Location, client: Any, url: str | None = None) -> None:
        self.location = location
        self.client = client
        self.url = url or f"{S3_SCHEME}{location.bucket}/{location.prefix}".rstrip("/")
        self.on_put: Callable[[str], None] | None = None

    @classmethod
    def from_url(cls, url: str) -> S3Repository:
        """Connect and check that the bucket exists and the credentials are accepted."""
        location = S3Location.parse(url)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - the serve and console extras have it
            raise StorageError(
                f"{url}: an s3:// repository needs boto3 (pip install 'loadcheck[serve]')"
            ) from exc
        # a session of its own: boto3's default one caches the credentials it found first
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=location.endpoint_url,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        repository = cls(location, client, url)
        repository.check_bucket()
        return repository

    def check_bucket(self) -> None:
        """:class:`StorageError` naming the problem: no credentials, refused, no bucket."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
        )

        where = f"{self.url} (endpoint {self.location.endpoint_url or 'AWS'})"
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
        except NoCredentialsError as exc:
            raise StorageError(
                f"{where}: no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE, or give the pod an identity)"
            ) from exc
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise StorageError(
                    f"{where}: bucket {self.location.bucket!r} does not exist; create it first "
                    f"(aws s3 mb s3://{self.location.bucket})"
                ) from exc
            if code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise StorageError(
                    f"{where}: access to bucket {self.location.bucket!r} refused ({code}); check "
                    "the credentials and the bucket policy"
                ) from exc
            raise StorageError(f"{where}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{where}: cannot reach the S3 endpoint: {exc}") from exc

    def _full(self, key: str) -> str:
        key = check_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _relative(self, full: str) -> str:
        return full[len(self.location.prefix) + 1 :] if self.location.prefix else full

    def read_bytes(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.location.bucket, Key=self._full(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(response["Body"].read())

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self._full(prefix) + "/" if prefix else self._full_root()
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.location.bucket, Prefix=base):
            keys.extend(self._relative(obj["Key"]) for obj in page.get("Contents", []))
        return sorted(k for k in keys if k and not k.endswith("/"))

    def _full_root(self) -> str:
        return self.location.prefix + "/" if self.location.prefix else ""

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.location.bucket, Key=self._full(key), Body=data)
        if self.on_put is not None:
            self.on_put(check_key(key))

    def _upload(self, staged: Path, key: str) -> None:
        self.client.upload_file(str(staged / key), self.location.bucket, self._full(key))
        if self.on_put is not None:
            self.on_put(key)

    def publish(self, staged: Path) -> list[str]:
        body, configs, top = staged_files(staged)
        for key in body:
            self._upload(staged, key)
        # a version folder that was published replaces the old one: its other files go
        versions = {k.rsplit("/", 1)[0] for k in body if k.count("/") >= 2}
        versions = {"/".join(v.split("/")[:2]) for v in versions}
        stale = [
            k for version in sorted(versions) for k in self.list_keys(version) if k not in body
        ]
        self._delete_keys(stale)
        for key in configs:
            self._upload(staged, key)
        for key in top:
            self._upload(staged, key)
        return [*body, *configs, *top]

    def delete_model(self, name: str) -> None:
        keys = self.list_keys(check_key(name))
        config = f"{name}/{CONFIG_FILE}"
        if config in keys:  # first: Triton stops seeing a model before its files go
            self._delete_keys([config])
        self._delete_keys([k for k in keys if k != config])

    def delete_version(self, name: str, version: int) -> None:
        self._delete_keys(self.list_keys(check_key(f"{name}/{version}")))

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.location.bucket,
                Delete={"Objects": [{"Key": self._full(k)} for k in chunk], "Quiet": True},
            )
