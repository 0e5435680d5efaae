"""Loading libautotune.so and declaring the C API's signatures (include/autotune/autotune.h).

The library is found, in order: $AUTOTUNE_LIB (a path to the .so), the build tree of
the checkout this file sits in (build/libautotune.so), then the installed library
(the loader's search path, then the usual prefixes).
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

MAX_DIMS = 8  # AT_MAX_DIMS

# The status codes, in AT_STATUS_MAP's order (their numbers never change).
OK, NOMEM, USAGE, IO, NOT_A_DB, DB_FUTURE, DB_CORRUPT, DB_BUSY, DB_READONLY, SQL, \
    NOT_FOUND, PARSE, UNSUPPORTED, DEVICE, INTERRUPTED, DISK = range(16)


class Problem(ctypes.Structure):
    """at_problem."""
    _fields_ = [("op", ctypes.c_char_p), ("dtype", ctypes.c_char_p),
                ("layout", ctypes.c_char_p), ("ndims", ctypes.c_int),
                ("dim_names", ctypes.c_char_p * MAX_DIMS),
                ("dims", ctypes.c_int64 * MAX_DIMS)]


def _candidates():
    env = os.environ.get("AUTOTUNE_LIB")
    if env:
        yield env
        return
    here = Path(__file__).resolve()
    for up in here.parents[1:4]:
        yield str(up / "build" / "libautotune.so")
    found = ctypes.util.find_library("autotune")
    if found:
        yield found
    for prefix in ("/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64"):
        yield prefix + "/libautotune.so"


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise OSError("autotune: cannot load libautotune.so (tried %s); set AUTOTUNE_LIB to "
                  "its path or install autotune" % ", ".join(tried))


lib = _load()

_sigs = {
    "at_version": (ctypes.c_char_p, []),
    "at_last_error": (ctypes.c_char_p, []),
    "at_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "at_db_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "at_db_refresh": (ctypes.c_int, [ctypes.c_void_p]),
    "at_db_close": (None, [ctypes.c_void_p]),
    "at_problem_gemm_call": (ctypes.c_int, [ctypes.POINTER(Problem), ctypes.c_char_p,
                                            ctypes.c_char_p] + [ctypes.c_int64] * 7),
    "at_best_config": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p,
                                      ctypes.POINTER(Problem),
                                      ctypes.POINTER(ctypes.c_void_p)]),
    "at_config_free": (None, [ctypes.c_void_p]),
    "at_config_text": (ctypes.c_char_p, [ctypes.c_void_p]),
    "at_config_match": (ctypes.c_int, [ctypes.c_void_p]),
    "at_match_name": (ctypes.c_char_p, [ctypes.c_int]),
    "at_config_kernel": (ctypes.c_char_p, [ctypes.c_void_p]),
    "at_config_device": (ctypes.c_char_p, [ctypes.c_void_p]),
    "at_config_dim": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int]),
    "at_config_time_us": (ctypes.c_double, [ctypes.c_void_p]),
    "at_config_distance": (ctypes.c_double, [ctypes.c_void_p]),
}
for _name, (_res, _args) in _sigs.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args
