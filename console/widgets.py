"""Widgets shared by the console pages: error display, uploads, progress, charts, galleries.

Presentation only: every number shown comes from the library (integrators, analysis, serving).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from loadcheck.console.auth import LOCAL_CLIENT, acting_as
from loadcheck.console.config import ConsoleConfig

LOG = logging.getLogger(__name__)
CLASS_LABELS = {1: "Qualified", 0: "Unqualified"}
CLASS_COLORS = alt.Scale(domain=["Qualified", "Unqualified"], range=["#1e9e3c", "#d22828"])


def client_address() -> str:
    """The address of this session's connection, as the login delays count it (``local`` for
    loopback, AppTest and library use). Behind a proxy on this machine, uvicorn takes it from
    ``X-Forwarded-For``."""
    try:
        address = st.context.ip_address
    except Exception:  # no session context
        return LOCAL_CLIENT
    # AppTest's context is a stand-in whose attributes are not strings.
    return address if isinstance(address, str) and address else LOCAL_CLIENT


@dataclass(frozen=True)
class Session:
    """What every page gets: the configuration and the logged-in admin."""

    config: ConsoleConfig
    admin: str

    def store(self) -> Any:
        from loadcheck.integrators.store import IntegratorStore

        return IntegratorStore(self.config.home, self.config.repository)


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 2000 else text[:2000] + " ..."


@contextlib.contextmanager
def action(session: Session, what: str) -> Iterator[None]:
    """Run an admin action as ``session.admin`` (audit actor); show failures as messages.

    Known errors (bad input, refused operations, server errors) show their message; anything
    else shows its message too and is logged with its traceback (never shown on the page).
    """
    try:
        with acting_as(session.admin):
            yield
    except (ValueError, OSError, KeyError) as exc:  # library errors derive from ValueError
        _count(what, ok=False)
        st.error(f"{what} failed: {_message(exc)}")
    except Exception as exc:  # tritonclient's errors, and anything unexpected
        _count(what, ok=False)
        LOG.exception("%s failed", what)
        st.error(f"{what} failed: {_message(exc)}")
    else:
        _count(what, ok=True)


def _count(what: str, *, ok: bool) -> None:
    """Count an action in the console's metrics (:mod:`loadcheck.console.metrics`)."""
    from loadcheck.console.metrics import count_action

    count_action(what, ok)


@contextlib.contextmanager
def uploaded_path(upload: Any) -> Iterator[Path]:
    """Write a Streamlit upload to a private temp file named like the upload; removed after."""
    from loadcheck.console.metrics import count_upload

    with tempfile.TemporaryDirectory(prefix="loadcheck-console-") as tmp:
        name = Path(str(upload.name)).name or "upload.zip"
        path = Path(tmp) / name
        data = upload.getvalue()
        count_upload(len(data))
        path.write_bytes(data)
        yield path


def progress_bar(text: str) -> Callable[[int, int], None]:
    bar = st.progress(0.0, text=text)

    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{text}: {done}/{total}")

    return update


def confusion_chart(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> alt.Chart:
    """Heat map of counts, rows = true label, columns = prediction."""
    rows = [
        {"true": labels[i], "predicted": labels[j], "count": int(matrix[i][j])}
        for i in range(len(labels))
        for j in range(len(labels))
    ]
    data = pd.DataFrame(rows)
    base = alt.Chart(data).encode(
        x=alt.X("predicted:N", sort=list(labels), title="predicted"),
        y=alt.Y("true:N", sort=list(labels), title="true label"),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None)
    )
    text = base.mark_text(fontSize=16).encode(text="count:Q")
    return (heat + text).properties(height=220, title="Confusion matrix")


def roc_chart(fpr: np.ndarray, tpr: np.ndarray, auc: float) -> alt.Chart:
    data = pd.DataFrame({"false positive rate": fpr, "true positive rate": tpr})
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(x="false positive rate:Q", y="true positive rate:Q")
    )
    diag = (
        alt.Chart(
            pd.DataFrame({"false positive rate": [0.0, 1.0], "true positive rate": [0.0, 1.0]})
        )
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="false positive rate:Q", y="true positive rate:Q")
    )
    return (diag + line).properties(height=260, title=f"ROC (cross-validated), AUC = {auc:.3f}")


def importance_chart(importance: dict[str, float], top: int = 12) -> alt.Chart:
    """Horizontal bars of the ``top`` most important features."""
    best = sorted(importance.items(), key=lambda kv: -kv[1])[:top]
    data = pd.DataFrame(best, columns=["feature", "share of total gain"])
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(x="share of total gain:Q", y=alt.Y("feature:N", sort="-x"))
        .properties(title=f"Feature importance (top {len(best)} of {len(importance)})")
    )


def distribution_chart(values: np.ndarray, labels: np.ndarray, feature: str) -> alt.Chart:
    """Overlaid per-class histograms of one feature (Qualified green, Unqualified red)."""
    data = pd.DataFrame(
        {feature: values.astype(float), "class": [CLASS_LABELS[int(v)] for v in labels]}
    )
    return (
        alt.Chart(data)
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X(f"{feature}:Q", bin=alt.Bin(maxbins=20)),
            y=alt.Y("count():Q", stack=None),
            color=alt.Color("class:N", scale=CLASS_COLORS),
        )
        .properties(height=200, title=alt.TitleParams(feature, offset=8))
    )


def gallery(
    key: str,
    items: Sequence[Any],
    render: Callable[[Any], np.ndarray],
    caption: Callable[[Any], str],
) -> None:
    """Images in rows of 3, :data:`PER_PAGE` per page, with a page selector."""
    if not items:
        st.info("nothing to show")
        return
    pages = (len(items) + PER_PAGE - 1) // PER_PAGE
    page = int(
        st.number_input(
            f"page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=f"{key}_page"
        )
    )
    chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
    columns = st.columns(3)
    for i, item in enumerate(chunk):
        with columns[i % 3]:
            try:
                st.image(render(item), caption=caption(item), width="stretch")
            except (ValueError, OSError) as exc:
                st.warning(f"{caption(item)}: {exc}")


PER_PAGE = 9
