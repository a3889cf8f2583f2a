"""Inspections page: the inspection records, filtered by camera, integrator, verdict, time and
probability band; a paged table; a record's photo, overlay, features and provenance; "this
verdict is wrong"; the daily verdict shares per camera; the CSV of the filtered records."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from loadcheck.client.errors import InspectionError
from loadcheck.console.inspections import (
    MAX_EXPORT_ROWS,
    daily_verdicts,
    export_csv,
    filter_choices,
    iter_records,
    record_corrections,
    record_overlay,
)
from loadcheck.console.widgets import Session, action
from loadcheck.payloads import VERDICTS, Verdict
from loadcheck.records.corrections import CORRECTION_LABELS, Correction
from loadcheck.records.model import InspectionRecord, RecordError, RecordQuery
from loadcheck.records.store import RecordStore

ALL = "(all)"
PAGE_SIZES = (10, 25, 50, 100)


def _newest_day(store: RecordStore) -> datetime | None:
    page = store.query(RecordQuery(limit=1))
    return page.records[0].at if page.records else None


def _filters(store: RecordStore, newest: datetime) -> RecordQuery:
    choices = filter_choices(store)
    a, b, c = st.columns(3)
    camera = a.selectbox("Camera", [ALL, *choices.cameras], key="insp_camera")
    integrator = b.selectbox("Integrator", [ALL, *choices.integrators], key="insp_integrator")
    verdict = c.selectbox("Verdict", [ALL, *VERDICTS], key="insp_verdict")
    d, e, f, g = st.columns(4)
    first_day = newest.date() - timedelta(days=6)
    start_day = d.date_input("From (UTC day)", first_day, key="insp_from_day")
    start_time = e.time_input("at", time(0, 0), key="insp_from_time")
    end_day = f.date_input("To (UTC day)", newest.date() + timedelta(days=1), key="insp_to_day")
    end_time = g.time_input("at (excluded)", time(0, 0), key="insp_to_time")
    low, high = st.slider(
        "Probability of Qualified", 0.0, 1.0, (0.0, 1.0), step=0.01, key="insp_band"
    )
    since = datetime.combine(start_day, start_time, UTC)
    until = datetime.combine(end_day, end_time, UTC)
    return RecordQuery(
        integrator=None if integrator == ALL else integrator,
        camera=None if camera == ALL else camera,
        verdict=None if verdict == ALL else Verdict(verdict),
        since=since,
        until=until,
        min_probability=low,
        max_probability=high,
    )


def _page(store: RecordStore, query: RecordQuery) -> list[InspectionRecord]:
    """The current page of ``query``: cursors kept per filter set, Previous / Next buttons."""
    size = int(st.selectbox("Rows per page", PAGE_SIZES, index=1, key="insp_page_size"))
    signature = repr((query, size))
    state = st.session_state.setdefault("insp_paging", {"signature": None, "cursors": [None]})
    if state["signature"] != signature:
        state.update(signature=signature, cursors=[None])
    cursors: list[str | None] = state["cursors"]
    page = store.query(_with_paging(query, size, cursors[-1]))
    left, mid, right = st.columns([1, 1, 4])
    if left.button("Previous page", key="insp_prev", disabled=len(cursors) == 1):
        cursors.pop()
        st.rerun()
    if mid.button("Next page", key="insp_next", disabled=page.next_cursor is None):
        cursors.append(page.next_cursor)
        st.rerun()
    right.caption(f"page {len(cursors)}, {store.count(query)} matching records")
    return list(page.records)


def _with_paging(query: RecordQuery, limit: int, after: str | None) -> RecordQuery:
    from dataclasses import replace

    return replace(query, limit=limit, after=after)


def _table(rows: list[InspectionRecord], corrections: dict[int, Correction]) -> None:
    frame = pd.DataFrame(
        [
            {
                "id": r.record_id,
                "time (UTC)": r.at.strftime("%Y-%m-%d %H:%M:%S"),
                "camera": r.camera or "",
                "integrator": r.integrator,
                "verdict": r.verdict.value,
                "probability": round(r.probability, 3),
                "threshold": round(r.threshold, 3),
                "needs review": r.needs_review,
                "corrected to": c.label.value if (c := corrections.get(r.record_id or -1)) else "",
                "photo kept": r.photo_stored,
            }
            for r in rows
        ]
    )
    st.dataframe(frame, hide_index=True, key="insp_table")


def _rates_chart(store: RecordStore, query: RecordQuery) -> None:
    data = pd.DataFrame(daily_verdicts(store, query))
    if data.empty:
        return
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="day (UTC)"),
            y=alt.Y("share:Q", stack="normalize", title="share of the day's verdicts"),
            color=alt.Color(
                "verdict:N",
                scale=alt.Scale(domain=list(VERDICTS), range=["#1e9e3c", "#d22828", "#8c8c8c"]),
            ),
            tooltip=[
                "day:O",
                "camera:N",
                "verdict:N",
                "count:Q",
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=160, width=min(900, 60 * data["day"].nunique() + 120))
        .facet(row=alt.Row("camera:N", title="camera"))
        .properties(title="Daily verdict shares per camera")
    )
    st.altair_chart(chart, key="insp_rates")


def _export(store: RecordStore, query: RecordQuery) -> None:
    """A CSV of every record the filters match, built when asked (not at every rerun) and kept
    for those filters; a correction made since needs *Prepare* again."""
    signature = repr(query)
    ready = st.session_state.get("insp_csv_ready")
    if ready is None or ready[0] != signature:
        st.session_state.pop("insp_csv_ready", None)
        if not st.button("Prepare a CSV of these records", key="insp_csv_prepare"):
            return
        rows = list(iter_records(store, query, MAX_EXPORT_ROWS + 1))
        if len(rows) > MAX_EXPORT_ROWS:
            st.warning(
                f"more than {MAX_EXPORT_ROWS} records match; the CSV holds the newest "
                f"{MAX_EXPORT_ROWS} (narrow the time range for a complete shift)"
            )
            rows = rows[:MAX_EXPORT_ROWS]
        data = export_csv(rows, record_corrections(store, rows))
        ready = (signature, len(rows), data)
        st.session_state["insp_csv_ready"] = ready
    since = query.since.strftime("%Y%m%dT%H%M") if query.since else "start"
    until = query.until.strftime("%Y%m%dT%H%M") if query.until else "end"
    st.download_button(
        f"Download these {ready[1]} records as CSV",
        ready[2],
        file_name=f"inspections_{since}_{until}.csv",
        mime="text/csv",
        key="insp_csv",
    )


def _correction(
    session: Session, store: RecordStore, record: InspectionRecord, found: Correction | None
) -> None:
    st.markdown("**This verdict is wrong**")
    done = st.session_state.pop("insp_done", None)
    if done:
        st.success(done)
    if found is not None:
        st.info(
            f"corrected from {found.verdict.value} to {found.label.value} by "
            f"{found.corrected_by} at {found.corrected_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(correction {found.revision})"
        )
    if not record.photo_stored:
        st.warning(
            "this record cannot be corrected: its photo is not kept (none given, over the size "
            "cap, or past the photo retention), and a correction adds the photo to the "
            "integrator's fitting data"
        )
        return
    options = [v.value for v in CORRECTION_LABELS if v != record.verdict]
    label = st.radio("The right label", options, key="insp_label", horizontal=True)
    confirm = st.checkbox(
        f"I confirm: this photo joins the fitting data of {record.integrator} as the chosen "
        "label, and the next fit uses it",
        key="insp_confirm",
    )
    if st.button("Store the correction", key="insp_correct", type="primary"):
        if not confirm:
            st.warning("tick the confirmation first")
            return
        from loadcheck.integrators.corrections import correct_record

        assert record.record_id is not None
        done = None
        with action(session, "correcting the verdict"):
            done = correct_record(store, session.store(), record.record_id, str(label))
        if done is not None:  # shown after the rerun, which shows the correction everywhere
            st.session_state["insp_done"] = done.message()
            st.session_state.pop("insp_csv_ready", None)  # its correction columns changed
            st.session_state.pop("insp_confirm", None)
            st.rerun()


def _detail(
    session: Session, store: RecordStore, rows: list[InspectionRecord], corrections: dict
) -> None:
    by_id = {r.record_id: r for r in rows}
    chosen = st.selectbox(
        "Record",
        list(by_id),
        key="insp_record",
        format_func=lambda i: (
            f"#{i}  {by_id[i].at:%Y-%m-%d %H:%M:%S}  {by_id[i].camera or ''}  "
            f"{by_id[i].verdict.value}"
        ),
    )
    record = by_id[chosen]
    assert record.record_id is not None
    left, right = st.columns(2)
    if record.photo_stored and record.photo_sha256:
        photo = store.photo(record.photo_sha256)
        left.image(photo, caption=f"photo {record.photo_sha256[:12]}", width="stretch")
        try:
            right.image(
                record_overlay(photo, record),
                caption="overlay: each truck's bed box and verdict (records keep no masks)",
                width="stretch",
            )
        except (ValueError, InspectionError) as exc:  # a photo the decoder refuses
            right.warning(f"no overlay: {exc}")
    else:
        left.info("the photo is not kept (none given, over the size cap, or purged)")
    with left:
        if record.features:
            st.markdown(f"**Features** ({record.feature_spec_version})")
            st.dataframe(
                pd.DataFrame(
                    {"feature": list(record.features), "value": list(record.features.values())}
                ),
                hide_index=True,
                key="insp_features",
            )
        else:
            st.caption("no features (no loaded truck was scored)")
    with right:
        st.markdown("**Provenance**")
        st.json(record.to_json()["provenance"], expanded=False)
        _correction(session, store, record, corrections.get(record.record_id))


def render(session: Session) -> None:
    st.header("Inspections")
    try:
        store = RecordStore(home=session.config.home)
    except Exception as exc:  # a bad URL, a database down or newer than this code
        st.error(f"the records database cannot be opened: {exc}")
        return
    try:
        newest = _newest_day(store)
        if newest is None:
            st.info(
                "no inspection records yet (the gateway and `loadcheck inspect --record` "
                "write them)"
            )
            return
        try:
            query = _filters(store, newest)
        except RecordError as exc:
            st.error(f"filters: {exc}")
            return
        rows = _page(store, query)
        corrections = record_corrections(store, rows)
        _table(rows, corrections)
        _export(store, query)
        _rates_chart(store, query)
        if rows:
            _detail(session, store, rows, corrections)
    finally:
        store.close()
