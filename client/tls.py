"""TLS of the client's connection to Triton (or to anything in front of it that terminates TLS).

One :class:`TlsSettings` serves both protocols: HTTP gets an :class:`ssl.SSLContext`
(:meth:`TlsSettings.ssl_context`, handed to ``tritonclient.http.aio`` with ``ssl=True``), gRPC the
file paths (:meth:`TlsSettings.grpc_options`: ``ssl``, ``root_certificates``, ``private_key``,
``certificate_chain`` of ``tritonclient.grpc.aio``). The files are read and checked when the
settings are made (:meth:`TlsSettings.checked`), so a missing, unreadable or non-PEM file, or a key
that does not match its certificate, is an error naming the file before anything is sent.

TLS is on when the URL says so (``https://``, or ``grpcs://`` for gRPC) or when a CA bundle or a
client certificate is given with a bare ``host:port``; an explicit ``http://`` or ``grpc://`` URL
with TLS files is a contradiction and refused (:func:`resolve_url`).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Schemes that ask for TLS, and those that refuse it.
TLS_SCHEMES = ("https://", "grpcs://")
PLAIN_SCHEMES = ("http://", "grpc://")


class TlsConfigError(ValueError):
    """A TLS file is missing, unreadable or not what it should be, or the options contradict."""


@dataclass(frozen=True)
class TlsSettings:
    """TLS of the client's connection.

    Attributes:
        enabled: connect with TLS.
        ca_file: PEM bundle of the CA certificates that may sign the server's certificate; None:
            the system's trust store.
        cert_file: PEM client certificate (chain) for mutual TLS; needs ``key_file``.
        key_file: PEM private key of ``cert_file`` (unencrypted).
    """

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            given, missing = (
                ("--cert-file", "--key-file")
                if self.cert_file is not None
                else ("--key-file", "--cert-file")
            )
            raise TlsConfigError(
                f"TLS client certificate: {given} needs {missing} too "
                "(the client certificate and its private key, both PEM files)"
            )
        if not self.enabled and (self.ca_file or self.cert_file):
            raise TlsConfigError(
                "TLS files given but TLS is off: use an https:// (or grpcs://) URL or a bare "
                "host:port"
            )

    @property
    def mutual(self) -> bool:
        """True when the client presents a certificate."""
        return self.cert_file is not None

    def describe(self) -> str:
        """What the settings trust and present, for error messages."""
        if not self.enabled:
            return "no TLS"
        trust = f"CA file {self.ca_file}" if self.ca_file else "the system's trust store"
        mine = f", client certificate {self.cert_file}" if self.cert_file else ""
        return f"TLS trusting {trust}{mine}"

    def checked(self) -> TlsSettings:
        """These settings once every file was read and checked (:meth:`ssl_context` does it).

        Raises:
            TlsConfigError: naming the file that is missing, unreadable, not PEM, or the key
                that does not match its certificate.
        """
        if self.enabled:
            self.ssl_context()
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """A client context verifying the server's certificate and host name against
        :attr:`ca_file` (or the system's store), presenting :attr:`cert_file` if given."""
        for flag, path in (
            ("--ca-file", self.ca_file),
            ("--cert-file", self.cert_file),
            ("--key-file", self.key_file),
        ):
            if path is not None:
                _check_readable(flag, path)
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except ssl.SSLError as exc:
            raise TlsConfigError(
                f"--ca-file {self.ca_file}: not a PEM bundle of CA certificates ({exc})"
            ) from exc
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(str(self.cert_file), str(self.key_file))
            except ssl.SSLError as exc:
                raise TlsConfigError(
                    f"--cert-file {self.cert_file} / --key-file {self.key_file}: not a PEM "
                    f"certificate and its matching unencrypted private key ({exc})"
                ) from exc
        return context

    def grpc_options(self) -> dict[str, Any]:
        """Keyword arguments of ``tritonclient.grpc.aio.InferenceServerClient`` (file paths:
        tritonclient reads them and builds ``grpc.ssl_channel_credentials``)."""
        if not self.enabled:
            return {}
        return {
            "ssl": True,
            "root_certificates": str(self.ca_file) if self.ca_file else None,
            "private_key": str(self.key_file) if self.key_file else None,
            "certificate_chain": str(self.cert_file) if self.cert_file else None,
        }

    def http_options(self) -> dict[str, Any]:
        """Keyword arguments of ``tritonclient.http.aio.InferenceServerClient``."""
        if not self.enabled:
            return {}
        return {"ssl": True, "ssl_context": self.ssl_context()}


def _check_readable(flag: str, path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except FileNotFoundError:
        raise TlsConfigError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise TlsConfigError(f"{flag} {path}: a folder, expected a PEM file") from None
    except OSError as exc:
        raise TlsConfigError(f"{flag} {path}: cannot be read ({exc.strerror or exc})") from None
    if b"-----BEGIN " not in head:
        raise TlsConfigError(f"{flag} {path}: not a PEM file (no '-----BEGIN' line)")


def resolve_url(
    url: str,
    *,
    ca_file: str | os.PathLike | None = None,
    cert_file: str | os.PathLike | None = None,
    key_file: str | os.PathLike | None = None,
) -> tuple[str, TlsSettings]:
    """``host:port`` of ``url`` and the TLS settings it and the files ask for (checked).

    Raises:
        ValueError: the URL is not ``[scheme://]host:port``.
        TlsConfigError: a file is missing or unusable, or TLS files come with a plain URL.
    """
    text = url.strip()
    scheme = ""
    for prefix in TLS_SCHEMES + PLAIN_SCHEMES:
        if text.startswith(prefix):
            scheme, text = prefix, text[len(prefix) :]
            break
    text = text.rstrip("/")
    if not text or "/" in text:
        raise ValueError(
            "url: expected host:port, http(s)://host:port or grpc(s)://host:port "
            f"(e.g. localhost:8000), got {url!r}"
        )
    files = [Path(f) if f else None for f in (ca_file, cert_file, key_file)]
    if scheme in PLAIN_SCHEMES and any(files):
        raise TlsConfigError(
            f"url {url!r} is plain {scheme[:-3]}, but TLS files were given "
            f"(--ca-file/--cert-file/--key-file): use {scheme[:-3]}s:// for TLS"
        )
    enabled = scheme in TLS_SCHEMES or any(files)
    settings = TlsSettings(enabled, *files)
    return text, settings.checked()
