"""Integrators › Fit & metrics: fit with a progress bar; CV accuracy, confusion matrix, ROC,
feature importance and per-class feature distributions of the served version."""

from __future__ import annotations

import streamlit as st

from loadcheck.console.analysis import (
    cv_probabilities,
    feature_importance,
    roc_curve,
    training_features,
)
from loadcheck.console.operations import fitting_mask_source
from loadcheck.console.widgets import (
    Session,
    action,
    confusion_chart,
    distribution_chart,
    importance_chart,
    progress_bar,
    roc_chart,
)
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.fitting import fit, list_versions, served_model
from loadcheck.integrators.store import IntegratorStore

MAIN_FEATURES = 4


@st.cache_data(show_spinner="computing the cross-validated ROC curve", max_entries=32)
def _roc(home: str, repository: str, name: str, version: int, n: int, folds: int) -> tuple:
    """(fpr, tpr, auc) of ``version``: cached per version and number of fitting images."""
    store = IntegratorStore(home, repository)
    model = served_model(store, name)
    data = training_features(store, name, model.mask_source)
    proba = cv_probabilities(data.x, data.y, model, folds=folds)
    return roc_curve(data.y, proba)


def _fit(session: Session, store: IntegratorStore, name: str) -> None:
    masks = st.text_input(
        "Masks folder on the server (optional: <stem>_bed.png and <stem>_load.png per image; "
        "empty = the served segmentator computes the masks)",
        key="fit_masks",
    )
    folds = st.number_input("Cross-validation folds (0 = none)", 0, 20, 5, key="fit_cv")
    if st.button("Fit a new version", key="fit", type="primary"):
        with (
            action(session, "fitting"),
            fitting_mask_source(store, name, masks, session.config) as mask_source,
        ):
            summary = fit(
                store,
                name,
                mask_source=mask_source,
                cv_folds=int(folds),
                progress=progress_bar("computing features"),
            )
            acc = summary["cv_accuracy"]
            st.success(
                f"fitted version {summary['version']} on {summary['n_samples']} images"
                + f" ({summary['n_corrections']} of them from corrections of verdicts)"
                + (f", CV accuracy {acc:.3f}" if acc is not None else "")
                + f" in {summary['fit_seconds']:.1f} s"
            )


def _metrics(session: Session, store: IntegratorStore, name: str) -> None:
    cfg = store.get(name)
    if cfg.served_version is None:
        st.info("no fitted version yet")
        return
    version = next(v for v in list_versions(store, name) if v["served"])
    cv = version["cv"]
    st.subheader(f"Version {cfg.served_version} ({version['model_type']})")
    st.caption(
        f"fitted on {version['n_samples']} images, {version['n_corrections']} of them from "
        "corrections of verdicts (Inspections page)"
    )
    if cv:
        a, b, c, d = st.columns(4)
        a.metric("CV accuracy", f"{cv['accuracy']:.3f}")
        b.metric("Precision", f"{cv['precision']:.3f}")
        c.metric("Recall", f"{cv['recall']:.3f}")
        d.metric("Images", cv["n_samples"])
    model = served_model(store, name)
    data = training_features(store, name, model.mask_source)
    left, right = st.columns(2)
    with left:
        if cv:
            st.altair_chart(
                confusion_chart(cv["confusion"], ["Unqualified", "Qualified"]),
                key="fit_confusion",
            )
        importance = feature_importance(model)
        st.altair_chart(importance_chart(importance), key="fit_importance")
    with right:
        if len(data.y):
            with action(session, "computing the ROC curve"):
                fpr, tpr, auc = _roc(
                    str(store.ws.home),
                    store.repository_location,
                    name,
                    int(cfg.served_version),
                    len(data.y),
                    int(cv["folds"]) if cv else 5,
                )
                st.altair_chart(roc_chart(fpr, tpr, auc), key="fit_roc")
    if data.missing:
        st.caption(f"{data.missing} fitting images were added after this version was fitted.")
    if not len(data.y):
        return
    main = [n for n, _ in sorted(importance.items(), key=lambda kv: -kv[1])][:MAIN_FEATURES]
    chosen = st.multiselect(
        "Per-class distributions of", list(FEATURE_SPEC.names), main, key="fit_dist"
    )
    columns = st.columns(2)
    for i, feature in enumerate(chosen):
        values = data.x[:, FEATURE_SPEC.index(feature)]
        with columns[i % 2]:
            st.altair_chart(distribution_chart(values, data.y, feature), key=f"fit_dist_{feature}")


def render(session: Session, store: IntegratorStore, name: str) -> None:
    counts = store.sample_counts(name)
    st.caption(f"{counts['qualified']} qualified and {counts['unqualified']} unqualified images")
    _fit(session, store, name)
    _metrics(session, store, name)
