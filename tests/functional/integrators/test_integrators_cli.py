"""The ``loadcheck integrator`` CLI end to end, as a subprocess."""

from __future__ import annotations

import pytest
from integrator_cli import run_cli, run_json, small_dataset


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "ws", tmp_path / "repo"


def test_create_set_add_data_fit_predict_rollback_delete(dirs, tmp_path):
    home, repo = dirs
    q, u, masks = small_dataset(tmp_path, 8)
    created = run_json(
        home, repo, "create", "site-a", "--description", "north", "--model-type", "xgboost-dart"
    )
    assert created["model_type"] == "xgboost-dart"
    cfg = run_json(
        home,
        repo,
        "set",
        "site-a",
        "--param",
        "n_estimators=20",
        "--param",
        "max_depth=3",
        "--feature",
        "fullness:weight=1,monotone=1",
        "--threshold",
        "0.6",
    )
    assert cfg["params"] == {"n_estimators": 20, "max_depth": 3}
    assert cfg["features"] == {"fullness": {"enabled": True, "weight": 1.0, "monotone": 1}}
    added = run_json(
        home, repo, "add-data", "site-a", "--qualified", str(q), "--unqualified", str(u)
    )
    assert (added["added_qualified"], added["added_unqualified"]) == (8, 8)
    first = run_json(home, repo, "fit", "site-a", "--masks", str(masks), "--cv", "3")
    assert first["version"] == 1 and first["cv_accuracy"] == 1.0
    second = run_json(home, repo, "fit", "site-a", "--masks", str(masks))
    assert second["version"] == 2 and second["features_cached"] == 16
    assert (repo / "scorer_site-a" / "2" / "model.ubj").is_file()
    versions = run_json(home, repo, "versions", "site-a")
    assert [(v["version"], v["served"]) for v in versions] == [(1, False), (2, True)]
    assert run_json(home, repo, "rollback", "site-a", "1")["served_version"] == 1
    shown = run_json(home, repo, "show", "site-a")
    assert shown["served_version"] == 1 and shown["samples"] == {"qualified": 8, "unqualified": 8}
    listed = run_json(home, repo, "list")
    assert [(r["name"], r["versions"]) for r in listed] == [("site-a", 2)]
    images = tmp_path / "predict"
    images.mkdir()
    import zipfile

    with zipfile.ZipFile(q) as zf:
        (images / "qualified_0.jpg").write_bytes(zf.read("qualified_0.jpg"))
    out = run_json(
        home, repo, "predict", "site-a", str(images / "qualified_0.jpg"), "--masks", str(masks)
    )
    assert out[0]["score_result"] == "Qualified" and out[0]["threshold"] == 0.6
    assert run_json(home, repo, "clear-data", "site-a", "--yes")["removed"] == 16
    assert run_json(home, repo, "delete", "site-a", "--yes") == {"deleted": "site-a"}
    assert not (repo / "scorer_site-a").exists()
    assert run_json(home, repo, "list") == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "Bad Name"], 2, "invalid integrator name"),
        (["create", "a", "--model-type", "svm"], 2, "'svm' is not one of 'xgboost'"),
        (["show", "missing"], 1, "no integrator named 'missing'"),
        (["set", "a", "--param", "depth=3"], 2, "unknown hyper-parameter 'depth'"),
        (["set", "a", "--param", "max_depth=99"], 2, "out of range"),
        (["set", "a", "--feature", "nope:weight=1"], 2, "unknown feature 'nope'"),
        (["set", "a", "--threshold", "1.5"], 2, "threshold"),
        (["delete", "a"], 2, "pass --yes"),
        (["clear-data", "a"], 2, "pass --yes"),
        (["fit", "a"], 1, "at least 2 of each"),
        (["rollback", "a", "3"], 1, "has no version 3"),
        (["predict", "a", "x.jpg"], 1, "has no fitted version"),
        (
            ["add-data", "a", "--qualified", "nope.zip", "--unqualified", "nope.zip"],
            1,
            "no such file",
        ),
    ],
)
def test_errors_exit_non_zero_with_a_message(dirs, args, code, message):
    home, repo = dirs
    run_cli(home, repo, "create", "a")
    proc = run_cli(home, repo, *args, check=False)
    assert proc.returncode == code, proc.stderr
    # usage errors come in a box that wraps at the terminal's width: compare the words
    assert message in " ".join(proc.stderr.replace("│", " ").split()), proc.stderr


def test_fit_without_masks_explains_what_to_do(dirs, tmp_path):
    home, repo = dirs
    q, u, _ = small_dataset(tmp_path, 2)
    run_cli(home, repo, "create", "a")
    run_cli(home, repo, "add-data", "a", "--qualified", str(q), "--unqualified", str(u))
    proc = run_cli(home, repo, "fit", "a", check=False)
    assert proc.returncode == 1
    assert "--masks DIR" in proc.stderr and "_bed.png" in proc.stderr


def test_skipped_archive_entries_are_reported_on_stderr(dirs, tmp_path):
    import zipfile

    home, repo = dirs
    q, u, _ = small_dataset(tmp_path, 2)
    with zipfile.ZipFile(q, "a") as zf:
        zf.writestr("notes.txt", "hello")
    run_cli(home, repo, "create", "a")
    proc = run_cli(home, repo, "add-data", "a", "--qualified", str(q), "--unqualified", str(u))
    assert "skipped notes.txt: not an image" in proc.stderr
