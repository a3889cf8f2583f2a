"""Segmentator page: settings of the detection + SAM pipeline, model status, undeploy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from loadcheck.console.auth import AdminStore
from loadcheck.console.operations import control_for
from loadcheck.console.segmentator_admin import (
    NETWORKS,
    apply_settings,
    dependent_integrators,
    deploy_segmentator,
    export_files,
    model_status,
    read_settings,
    undeploy_segmentator,
)
from loadcheck.console.widgets import Session, action, client_address
from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
from loadcheck.serving.config import Device
from loadcheck.serving.runtimes import Runtime
from loadcheck.workspace import Workspace


def _settings_form(session: Session) -> None:
    cfg = session.config
    try:
        current, export_dir = read_settings(cfg.repository)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.subheader("Settings")
    folder = st.text_input("Export folder (model files)", str(export_dir or ""), key="seg_export")
    if folder.strip():
        with action(session, "reading the export folder"):
            files = export_files(Path(folder.strip()))
            st.caption("Model files: " + ", ".join(f"{k}: `{v}`" for k, v in files.items()))
    runtimes, devices = {}, {}
    columns = st.columns(len(NETWORKS))
    for col, net in zip(columns, NETWORKS, strict=True):
        with col:
            st.markdown(f"**{net}**")
            names = [r.value for r in Runtime]
            runtimes[net] = st.selectbox(
                "runtime", names, names.index(current.runtime[net]), key=f"seg_rt_{net}"
            )
            kinds = [d.value for d in Device]
            devices[net] = Device(
                st.selectbox(
                    "device",
                    kinds,
                    kinds.index(Device(current.device[net]).value),
                    key=f"seg_dev_{net}",
                )
            )
    left, mid, right = st.columns(3)
    frames = [f.value for f in SamFrame]
    frame = left.selectbox(
        "SAM frame",
        frames,
        frames.index(current.sam_frame.value),
        key="seg_frame",
        help="crop: SAM encodes the detected trucks' region; whole: the whole photo",
    )
    size = left.number_input(
        "SAM image size (0 = the exported encoder's)",
        0,
        4096,
        current.sam_img_size or 0,
        key="seg_size",
    )
    conf = mid.number_input(
        "Confidence threshold", 0.0, 1.0, current.detector.conf_thres, 0.05, key="seg_conf"
    )
    iou = mid.number_input(
        "IoU threshold", 0.0, 1.0, current.detector.iou_thres, 0.05, key="seg_iou"
    )
    max_det = right.number_input(
        "Max detections", 1, 10000, current.detector.max_det, key="seg_maxdet"
    )
    if st.button("Apply (rebuild configs and reload in Triton)", key="seg_apply", type="primary"):
        with action(session, "applying the segmentator settings"):
            new = replace(
                current,
                runtime=runtimes,
                device=devices,
                sam_frame=SamFrame(frame),
                sam_img_size=int(size) or None,
                detector=DetectorSettings(float(conf), float(iou), int(max_det)),
            )
            notes = apply_settings(
                Workspace(cfg.home), Path(folder.strip()), cfg.repository, new, control_for(cfg)
            )
            st.success("applied and reloaded" + "".join(f"\n\nnote: {n}" for n in notes))


def _status(session: Session) -> None:
    cfg = session.config
    st.subheader("Models on the server")
    with action(session, "reading the model status"):
        rows = model_status(cfg.repository, control_for(cfg))
        st.dataframe(pd.DataFrame([r.__dict__ for r in rows]), hide_index=True, key="seg_status")


def _undeploy(session: Session) -> None:
    cfg = session.config
    st.subheader("Undeploy")
    users = dependent_integrators(cfg.repository)
    st.caption("Integrators using the segmentator: " + (", ".join(users) if users else "none"))
    ws = Workspace(cfg.home)
    left, right = st.columns(2)
    if left.button("Soft undeploy", key="seg_soft"):
        with action(session, "undeploying the segmentator"):
            models = undeploy_segmentator(ws, cfg.repository, control_for(cfg), hard=False)
            st.success(f"unloaded {', '.join(models)}")
    password = right.text_input(
        "Your password (hard undeploy also unloads every integrator)",
        type="password",
        key="seg_hard_password",
    )
    if right.button("Hard undeploy", key="seg_hard"):
        if not AdminStore(ws).verify_password(session.admin, password, client=client_address()):
            st.error("hard undeploy refused: wrong password")
        else:
            with action(session, "undeploying the segmentator"):
                models = undeploy_segmentator(ws, cfg.repository, control_for(cfg), hard=True)
                st.success(f"unloaded {', '.join(models)}")
    if st.button("Load the segmentator", key="seg_load"):
        with action(session, "loading the segmentator"):
            deploy_segmentator(ws, control_for(cfg))
            st.success("segmentator loaded")


def render(session: Session) -> None:
    st.header("Segmentator")
    _settings_form(session)
    _status(session)
    _undeploy(session)
