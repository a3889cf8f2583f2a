"""Several writers at once — threads of one process, and separate processes (as gateway replicas
are) starting on an empty database — on SQLite and PostgreSQL: no record lost or duplicated,
every one as written, each distinct photo stored once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from loadcheck.imageio import sha256_bytes
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordQuery, RecordStore

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

#: One writer process: opens the store (migrating an empty database), writes N records through
#: the background writer, prints its counters.
WRITER_PROCESS = """
import json, sys
from datetime import UTC, datetime, timedelta
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordStore, RecordWriter
url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
store = RecordStore(url)
writer = RecordWriter(store, queue_size=n)
for i in range(n):
    writer.submit(
        InspectionRecord(
            at=t0 + timedelta(seconds=i), integrator="north_pit", camera=name,
            verdict=Verdict.UNQUALIFIED, probability=(i % 10) / 10, threshold=0.5,
            provenance=Provenance(recorded_by="gateway", source=f"{name}-{i}"),
        ),
        f"photo {i % 5}".encode(),
    )
stats = writer.close(timeout_s=120)
store.close()
print(json.dumps({"written": stats.written, "dropped": stats.dropped}))
"""


def _all_records(store: RecordStore) -> list[InspectionRecord]:
    out: list[InspectionRecord] = []
    cursor = None
    while True:
        page = store.query(RecordQuery(limit=1000, after=cursor))
        out += page.records
        cursor = page.next_cursor
        if cursor is None:
            return out


def _photo_rows(store: RecordStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM record_photos")).scalar_one())


def test_writer_processes_starting_at_once_lose_no_record(database_url: str) -> None:
    names, n = ("replica1", "replica2", "replica3"), 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_PROCESS, database_url, name, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1]) == {"written": n, "dropped": 0}
    with RecordStore(database_url) as store:
        records = _all_records(store)
        assert len(records) == len(names) * n
        by_source = {r.provenance.source: r for r in records}
        assert set(by_source) == {f"{name}-{i}" for name in names for i in range(n)}
        for name in names:
            for i in range(n):
                r = by_source[f"{name}-{i}"]
                assert (r.camera, r.at, r.probability) == (
                    name,
                    T0 + timedelta(seconds=i),
                    (i % 10) / 10,
                )
                assert r.photo_sha256 == sha256_bytes(f"photo {i % 5}".encode()) and r.photo_stored
        assert _photo_rows(store) == 5
        assert store.count(RecordQuery(camera="replica2")) == n


def test_writer_threads_sharing_one_store_lose_no_record(database_url: str) -> None:
    threads, n = 6, 25
    errors: list[BaseException] = []
    with RecordStore(database_url) as store:

        def write(k: int) -> None:
            try:
                for i in range(n):
                    store.add(
                        InspectionRecord(
                            at=T0 + timedelta(minutes=i),
                            integrator=f"pit{k}",
                            verdict=Verdict.QUALIFIED,
                            probability=0.75,
                            threshold=0.5,
                            provenance=Provenance(recorded_by="test", source=f"t{k}-{i}"),
                        ),
                        f"shared photo {i % 3}".encode(),
                    )
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(300)
        assert not any(w.is_alive() for w in workers)
        assert errors == []
        records = _all_records(store)
        assert sorted(r.provenance.source or "" for r in records) == sorted(
            f"t{k}-{i}" for k in range(threads) for i in range(n)
        )
        assert all(r.integrator == f"pit{r.provenance.source[1]}" for r in records)  # type: ignore[index]
        assert _photo_rows(store) == 3
