#!/usr/bin/env python3
"""Container health check for the loadcheck images (standard library only).

Usage: ``loadcheck-healthcheck URL [--timeout SECONDS]``

* ``http://host:port/path``: healthy when the answer's status is 2xx
  (Triton ``/v2/health/ready``, Streamlit ``/_stcore/health``);
* ``tcp://host:port``: healthy when a TCP connection opens (a service without a health route).

Exit status 0 when healthy, 1 when not (with the reason on stderr), 2 on a bad argument: the
contract of Docker's ``HEALTHCHECK`` and compose's ``healthcheck.test``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

HEALTHY = 0
UNHEALTHY = 1
BAD_ARGUMENT = 2


def parse_target(url: str) -> tuple[str, str, int, str]:
    """Split ``url`` into (scheme, host, port, path); raise ValueError naming what is wrong.

    Only ``http`` and ``tcp`` are accepted, the host must be present, and ``tcp`` needs a port.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "tcp"):
        raise ValueError(
            f"unsupported scheme in {url!r}; expected http://host:port/path or tcp://host:port"
        )
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}; expected http://host:port/path or tcp://host:port")
    try:
        port = parts.port
    except ValueError as error:  # a port that is not a number in 0..65535
        raise ValueError(f"bad port in {url!r}: {error}") from error
    if port is None:
        if parts.scheme == "tcp":
            raise ValueError(f"no port in {url!r}; expected tcp://host:port")
        port = 80
    return parts.scheme, parts.hostname, port, parts.path or "/"


def check(url: str, timeout_s: float) -> str | None:
    """Return None when the target at ``url`` is healthy, otherwise the reason it is not."""
    scheme, host, port, _ = parse_target(url)
    if scheme == "tcp":
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return None
        except OSError as error:
            return f"cannot connect to {host}:{port}: {error}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return f"{url} answered HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"{url} unreachable: {error}"
    if not 200 <= status < 300:
        return f"{url} answered HTTP {status}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadcheck-healthcheck", description="Container health check for loadcheck."
    )
    parser.add_argument("url", help="http://host:port/path or tcp://host:port")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        sys.stderr.write(f"loadcheck-healthcheck: --timeout must be > 0 s, got {args.timeout}\n")
        return BAD_ARGUMENT
    try:
        reason = check(args.url, args.timeout)
    except ValueError as error:
        sys.stderr.write(f"loadcheck-healthcheck: {error}\n")
        return BAD_ARGUMENT
    if reason is not None:
        sys.stderr.write(f"loadcheck-healthcheck: unhealthy: {reason}\n")
        return UNHEALTHY
    return HEALTHY


if __name__ == "__main__":
    sys.exit(main())
