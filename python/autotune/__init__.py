"""autotune: the Python client of the autotune kernel autotuner.

Lookups go through libautotune.so (ctypes; the library is the product, this package a
client): open a tuning database, ask the best configuration for a problem on a device.
Runs and trials come back as records read from `autotune db export`, and any command
runs through `autotune(...)`, which returns its parsed --json output.

    import autotune
    with autotune.Database("tuning.db") as db:
        c = db.best_gemm("h100", 4096, 4096, 4096)
        print(c.match, c.kernel, c.params["BM"], c.distance)
"""
import ctypes
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from . import _lib
from ._lib import lib

__all__ = ["Database", "Config", "Record", "AutotuneError", "NotFound", "CommandError",
           "autotune", "version"]


class AutotuneError(Exception):
    """A failed call: status is the C status name ("AT_USAGE"), the message says why."""

    def __init__(self, status: int, message: str):
        self.status = lib.at_status_name(status).decode()
        super().__init__(message)


class NotFound(AutotuneError):
    """Nothing in the lookup chain matches (AT_NOT_FOUND)."""


class CommandError(Exception):
    """An `autotune` command exited non-zero: its exit code and its stderr."""

    def __init__(self, args: Sequence[str], code: int, stderr: str):
        self.code, self.stderr = code, stderr
        super().__init__("autotune %s exited %d: %s" % (" ".join(args), code, stderr.strip()))


def _check(rc: int) -> None:
    if rc != _lib.OK:
        msg = (lib.at_last_error() or b"").decode(errors="replace")
        raise (NotFound if rc == _lib.NOT_FOUND else AutotuneError)(rc, msg)


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return lib.at_version().decode()


@dataclass(frozen=True)
class Config:
    """The best configuration for a problem (at_config, copied out)."""
    match: str                 # "exact", "nearest", "arch" or "vendor"
    device: str                # the device the winning trial ran on
    kernel: str                # template name
    text: str                  # canonical "KEY=VALUE,..."
    params: Dict[str, str]
    dims: Dict[str, int]       # the tuned shape (the asked one when exact)
    time_us: float             # median time of the winner
    distance: float            # 0 when exact; at most AT_NEAREST_MAX_DISTANCE

    def int(self, key: str) -> int:
        return int(self.params[key])


class Record(dict):
    """A run or a trial as `autotune db export` writes it: a dict whose keys are also
    attributes (trial.status, trial.dims["m"])."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _binary() -> str:
    env = os.environ.get("AUTOTUNE_BIN")
    if env:
        return env
    here = Path(__file__).resolve()
    for up in here.parents[1:4]:
        p = up / "build" / "autotune"
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    found = shutil.which("autotune")
    if not found:
        raise FileNotFoundError("autotune: no 'autotune' command (set AUTOTUNE_BIN, or "
                                "install autotune)")
    return found


def autotune(*args: str, json_output: bool = True, check: bool = True):
    """Run `autotune ARGS... [--json]`: its parsed JSON (a JSON-lines output comes back as
    a list), or its stdout text when json_output is False. CommandError when it exits
    non-zero and check is True."""
    argv = [str(a) for a in args] + (["--json"] if json_output else [])
    r = subprocess.run([_binary()] + argv, capture_output=True, text=True)
    if r.returncode != 0 and check:
        raise CommandError(argv, r.returncode, r.stderr)
    if not json_output:
        return r.stdout
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    if len(lines) == 1:
        return json.loads(lines[0])
    return [json.loads(l) for l in lines]


class Database:
    """A tuning database opened read-only through the C API (at_db_open): its winners
    are read into memory once, so a lookup runs no SQL; refresh() reads them again."""

    def __init__(self, path):
        self.path = str(path)
        self._h = ctypes.c_void_p()
        _check(lib.at_db_open(os.fsencode(self.path), ctypes.byref(self._h)))

    def close(self) -> None:
        if self._h:
            lib.at_db_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def refresh(self) -> None:
        """See what was committed since open or the last refresh."""
        _check(lib.at_db_refresh(self._h))

    def best(self, device: str, op: str, dims: Sequence[Tuple[str, int]], dtype: str,
             layout: str = "") -> Config:
        """The best configuration for any op: dims as (name, value) pairs in the op's
        order. NotFound when nothing in the chain matches (or only past the distance
        limit), AutotuneError for a bad problem."""
        if not 1 <= len(dims) <= _lib.MAX_DIMS:
            raise AutotuneError(_lib.USAGE, "a problem has 1 to %d dims" % _lib.MAX_DIMS)
        p = _lib.Problem(op=op.encode(), dtype=dtype.encode(), layout=layout.encode(),
                         ndims=len(dims))
        for i, (name, value) in enumerate(dims):
            p.dim_names[i] = name.encode()
            p.dims[i] = int(value)
        return self._best(device, p)

    def best_gemm(self, device: str, m: int, n: int, k: int, dtype: str = "f16",
                  layout: str = "NN", lda: int = 0, ldb: int = 0, ldc: int = 0,
                  batch: int = 0) -> Config:
        """The best configuration for a gemm call (at_problem_gemm_call): leading dims 0
        mean packed, batch 0 or 1 one product; only winners measured with the same
        leading dims and batch answer."""
        p = _lib.Problem()
        keep = (dtype.encode(), layout.encode())  # p points at them until the lookup ends
        _check(lib.at_problem_gemm_call(ctypes.byref(p), keep[0], keep[1], m, n, k, lda, ldb,
                                        ldc, batch))
        return self._best(device, p)

    def _best(self, device: str, p) -> Config:
        if not self._h:
            raise AutotuneError(_lib.USAGE, "the database '%s' is closed" % self.path)
        c = ctypes.c_void_p()
        _check(lib.at_best_config(self._h, device.encode(), ctypes.byref(p), ctypes.byref(c)))
        try:
            text = lib.at_config_text(c).decode()
            return Config(
                match=lib.at_match_name(lib.at_config_match(c)).decode(),
                device=lib.at_config_device(c).decode(),
                kernel=lib.at_config_kernel(c).decode(),
                text=text,
                params=dict(kv.split("=", 1) for kv in text.split(",") if kv),
                dims={p.dim_names[i].decode(): lib.at_config_dim(c, i) for i in range(p.ndims)},
                time_us=lib.at_config_time_us(c),
                distance=lib.at_config_distance(c))
        finally:
            lib.at_config_free(c)

    def _export(self) -> List[Record]:
        out = autotune("db", "export", "--db", self.path, "--out", "-", json_output=False)
        lines = [json.loads(l, object_hook=Record) for l in out.splitlines() if l.strip()]
        return lines[1:]  # the first line is the header

    def runs(self) -> List[Record]:
        """Every run, in the order recorded."""
        return [r for r in self._export() if r.get("type") == "run"]

    def trials(self) -> List[Record]:
        """Every trial, in the order recorded (failed ones too: see status)."""
        return [r for r in self._export() if r.get("type") == "trial"]
