"""The Python client against the real library and command: a database written by
`autotune db import` (SQLite on disk), looked up through libautotune.so, read back as
records, and the same answers from `autotune query --json`."""
import json
import math
import os
import uuid

import pytest

import autotune

RUN = uuid.UUID(int=1).hex


def trial(device, arch, m, n, k, config, time_us, status="ok", layout="NN", extra=None):
    dims = {"m": m, "n": n, "k": k}
    dims.update(extra or {})
    return {"type": "trial", "uuid": uuid.uuid4().hex, "run": RUN, "device": device,
            "arch": arch, "vendor": "nvidia", "kernel": "gemm_mma",
            "kernel_hash": "0123456789abcdef", "op": "gemm", "dtype": "f16",
            "layout": layout, "dims": dims, "config": config, "status": status,
            "time_median_us": time_us if status == "ok" else None,
            "message": None if status == "ok" else "planted",
            "created_at": "2026-12-03T12:00:00Z"}


def write_db(tmp_path, trials, name="tuning.db"):
    src = tmp_path / (name + ".jsonl")
    lines = [{"autotune_jsonl": 1, "schema": 3},
             {"type": "run", "uuid": RUN, "host": "pytest",
              "started_at": "2026-12-03T12:00:00Z", "autotune_version": autotune.version(),
              "strategy": "exhaustive"}] + trials
    src.write_text("".join(json.dumps(l) + "\n" for l in lines))
    db = tmp_path / name
    autotune.autotune("db", "import", "--db", str(db), str(src), json_output=False)
    return db


@pytest.fixture
def db_path(tmp_path):
    return write_db(tmp_path, [
        trial("h100", "sm_90", 4096, 4096, 4096, "BK=32,BM=128,BN=256", 100.0),
        trial("h100", "sm_90", 4096, 4096, 4096, "BK=64,BM=64,BN=64", 180.0),
        trial("h100", "sm_90", 4096, 4096, 4096, "BK=16,BM=256,BN=256", 0, status="fault"),
        trial("h100", "sm_90", 1024, 1024, 1024, "BK=32,BM=64,BN=64", 9.0),
        trial("h100", "sm_90", 4096, 4096, 4096, "PADDED=1", 120.0,
              extra={"lda": 4160}),
    ])


def test_exact_and_nearest_lookups_with_their_distance(db_path):
    with autotune.Database(db_path) as db:
        c = db.best_gemm("h100", 4096, 4096, 4096)
        assert (c.match, c.device, c.kernel) == ("exact", "h100", "gemm_mma")
        assert c.text == "BK=32,BM=128,BN=256"
        assert c.params == {"BK": "32", "BM": "128", "BN": "256"} and c.int("BM") == 128
        assert c.time_us == 100.0 and c.distance == 0.0
        near = db.best_gemm("h100", 4000, 4096, 4096)
        assert near.match == "nearest" and near.dims == {"m": 4096, "n": 4096, "k": 4096}
        assert near.distance == pytest.approx(math.log(4096 / 4000), rel=1e-12)
        arch = db.best_gemm("H200", 1024, 1024, 1024)  # same sm_90, nothing of its own
        assert (arch.match, arch.device, arch.text) == ("arch", "h100", "BK=32,BM=64,BN=64")


def test_past_the_distance_limit_and_unmeasured_calls_are_not_found(db_path):
    with autotune.Database(db_path) as db:
        with pytest.raises(autotune.NotFound, match="past the limit 2") as e:
            db.best_gemm("h100", 1, 1, 1)
        assert e.value.status == "AT_NOT_FOUND"
        with pytest.raises(autotune.NotFound):
            db.best_gemm("h100", 4096, 4096, 4096, batch=4)  # nothing measured batched
        padded = db.best_gemm("h100", 4096, 4096, 4096, lda=4160)
        assert (padded.match, padded.text) == ("exact", "PADDED=1")
        assert padded.dims["lda"] == 4160
        with pytest.raises(autotune.AutotuneError, match="lda 100 .expected at least 4096") as e:
            db.best_gemm("h100", 4096, 4096, 4096, lda=100)
        assert e.value.status == "AT_USAGE"


def test_any_op_by_named_dims(db_path):
    with autotune.Database(db_path) as db:
        c = db.best("h100", "gemm", [("m", 1024), ("n", 1024), ("k", 1024)], "f16", "NN")
        assert c.text == "BK=32,BM=64,BN=64"
        with pytest.raises(autotune.NotFound):
            db.best("h100", "softmax", [("R", 4), ("C", 4)], "f16")


def test_runs_and_trials_as_records(db_path):
    with autotune.Database(db_path) as db:
        runs, trials = db.runs(), db.trials()
    assert [r.uuid for r in runs] == [RUN] and runs[0].host == "pytest"
    assert len(trials) == 5
    assert [t.status for t in trials].count("fault") == 1
    assert trials[0].dims["m"] == 4096 and trials[0].config == "BK=32,BM=128,BN=256"


def test_the_command_answers_as_the_library(db_path):
    with autotune.Database(db_path) as db:
        for shape in [(4096, 4096, 4096), (4000, 4096, 4096), (1100, 1000, 1024)]:
            c = db.best_gemm("h100", *shape)
            q = autotune.autotune("query", "gemm", "--device", "h100", "--m", shape[0],
                                  "--n", shape[1], "--k", shape[2], "--db", str(db_path))
            assert (q["match"], q["config"], q["kernel"]) == (c.match, c.text, c.kernel)
            assert q["distance"] == pytest.approx(c.distance, abs=1e-12)
    stats = autotune.autotune("db", "stats", "--db", str(db_path))
    assert stats["trials"] == 5
    with pytest.raises(autotune.CommandError) as e:
        autotune.autotune("query", "gemm", "--device", "h100", "--m", "1", "--n", "1",
                          "--k", "1", "--db", str(db_path))
    assert e.value.code == 1 and "autotune: no tuned gemm" in e.value.stderr


def test_refresh_sees_what_was_committed_since_open(tmp_path):
    path = write_db(tmp_path, [trial("h100", "sm_90", 2048, 2048, 2048, "OLD=1", 50.0)])
    db = autotune.Database(path)
    assert db.best_gemm("h100", 2048, 2048, 2048).text == "OLD=1"
    more = write_db(tmp_path, [trial("h100", "sm_90", 2048, 2048, 2048, "NEW=1", 20.0)],
                    name="more.db")
    autotune.autotune("db", "merge", str(path), str(more), json_output=False)
    assert db.best_gemm("h100", 2048, 2048, 2048).text == "OLD=1"  # the snapshot
    db.refresh()
    assert db.best_gemm("h100", 2048, 2048, 2048).text == "NEW=1"
    db.close()
    with pytest.raises(autotune.AutotuneError, match="closed"):
        db.best_gemm("h100", 2048, 2048, 2048)


def test_open_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(autotune.AutotuneError, match="nope.db") as e:
        autotune.Database(missing)
    assert e.value.status == "AT_IO"
    assert not missing.exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(autotune.AutotuneError) as e:
        autotune.Database(junk)
    assert e.value.status == "AT_NOT_A_DB"
