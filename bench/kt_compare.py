#!/usr/bin/env python3
"""kt_compare.py - our search strategies against Kernel Tuner's on the same recorded spaces.

A bench script, never a product dependency: it needs kernel_tuner (pip, in a venv:
`python3 -m venv /tmp/kt-venv && /tmp/kt-venv/bin/pip install kernel_tuner`).

  kt_compare.py to-cache FILE.jsonl[.gz] OUT.json [--drop KEY,...] [--problem NAME]
      write an autotune export (one exhaustive run), or the lines of one problem
      (--problem square4096_nn) of bench/gpu/gemm_gpu's output (H100 runs in
      bench/results/2026-11-26-h100*), as a Kernel Tuner cache file, its
      times in milliseconds; --drop leaves out derived parameters (each config must stay
      unique) so that Kernel Tuner does not enumerate a useless cartesian product.
  kt_compare.py compare CACHE.json ... [--autotune build/autotune] [--seeds N] [--budget N]
                [--kt STRATEGY,...]
      replay each cache through `autotune simulate` and through Kernel Tuner's strategies in
      simulation mode (kernel_tuner.tune_cache, max_fevals = budget), seeds 1..N each
      (numpy's and random's), and print one Markdown table per cache: per strategy the
      mean and median fraction of the optimum (optimum / best so far) after 25, 50, 100
      and 200 evaluations and the median evaluations to reach 0.95 and 0.98 (with how
      many seeds reached it).

Kernel Tuner's tune_cache takes the configs without an error as the space (its
infer_restrictions_from_cache); our simulate counts failed configs as evaluations. On
spaces without failures (ours on the host) both see the same space.
"""
import argparse
import gzip
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time

CHECKS = [10, 25, 50, 100, 200, 400]
SHOW = [25, 50, 100, 200]
TARGETS = [0.95, 0.98]
KT_DEFAULT = ["random_sample", "genetic_algorithm", "simulated_annealing", "dual_annealing",
              "bayes_opt", "greedy_ils", "mls", "pso", "diff_evo", "firefly_algorithm",
              "basinhopping"]


def opener(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def to_cache(args):
    drop = set(args.drop.split(",")) if args.drop else set()
    trials, runs = [], {}
    with opener(args.jsonl) as f:
        for line in f:
            rec = json.loads(line)
            if "variant" in rec:  # bench/gpu/gemm_gpu's lines (bench/results/2026-11-26-h100*)
                if args.problem and not rec["problem"].endswith(args.problem):
                    continue
                trials.append({"kernel": rec["variant"].rsplit("_", 1)[0][3:], "device": "h100",
                               "config": rec["config"], "dims": {"m": rec["m"], "n": rec["n"], "k": rec["k"]},
                               "status": "ok" if rec["verified"] else "verify_failed",
                               "time_median_us": rec["median_us"]})
            elif rec.get("type") == "run":
                runs[rec["uuid"]] = rec
            elif rec.get("type") == "trial" and runs.get(rec["run"], {}).get("strategy") == "exhaustive":
                trials.append(rec)
    kernels = sorted({t["kernel"] for t in trials}, key=lambda k: -sum(t["kernel"] == k for t in trials))
    trials = [t for t in trials if t["kernel"] == kernels[0]]  # the template, not the baseline
    t0 = trials[0]
    keys = [kv.split("=")[0] for kv in t0["config"].split(",") if kv.split("=")[0] not in drop]
    values = {k: set() for k in keys}
    cache = {}
    for t in trials:
        cfg = dict(kv.split("=") for kv in t["config"].split(","))
        vals = [int(cfg[k]) for k in keys]
        for k, v in zip(keys, vals):
            values[k].add(v)
        entry = dict(zip(keys, vals))
        ok = t["status"] == "ok" and t["time_median_us"] is not None
        entry["time"] = t["time_median_us"] / 1000.0 if ok else "RuntimeFailedConfig"
        key = ",".join(str(v) for v in vals)
        if key in cache:
            sys.exit(f"kt_compare: dropping {sorted(drop)} makes config {key} appear twice")
        cache[key] = entry
    dims = t0["dims"]
    head = {"device_name": t0["device"], "kernel_name": t0["kernel"],
            "problem_size": [dims[d] for d in dims], "tune_params_keys": keys,
            "tune_params": {k: sorted(values[k]) for k in keys}, "objective": "time",
            "cache": cache}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(head, f)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(cache)} configs of {t0['kernel']} on {t0['device']}, "
          f"{len(keys)} parameters")


def stats_of(curves, budget):
    """curves: per seed, best-so-far fractions after each evaluation."""
    out = {"mean": {}, "median": {}, "to": {}}
    for c in CHECKS:
        fr = [cv[min(c, len(cv)) - 1] if cv else 0.0 for cv in curves]
        out["mean"][c] = sum(fr) / len(fr)
        out["median"][c] = statistics.median(fr)
    for t in TARGETS:
        need = []
        for cv in curves:
            hit = next((i + 1 for i, f in enumerate(cv[:budget]) if f >= t), math.inf)
            need.append(hit)
        out["to"][t] = (statistics.median(need), sum(math.isfinite(n) for n in need))
    return out


def run_kt(cache_path, strategy, seeds, budget, optimum):
    import numpy as np
    import kernel_tuner
    curves, secs = [], 0.0
    for seed in range(1, seeds + 1):
        random.seed(seed)
        np.random.seed(seed)
        t0 = time.time()
        res, _ = kernel_tuner.tune_cache(cache_path, strategy=strategy,
                                         strategy_options={"max_fevals": budget},
                                         verbose=False, quiet=True)
        secs += time.time() - t0
        best, cv, seen = math.inf, [], set()
        for r in res:
            key = tuple(sorted((k, str(v)) for k, v in r.items() if k in cache_keys(cache_path)))
            if key in seen:
                continue
            seen.add(key)
            t = r.get("time")
            if isinstance(t, (int, float)) and math.isfinite(t) and t > 0:
                best = min(best, t)
            cv.append(optimum / best if math.isfinite(best) else 0.0)
        curves.append(cv[:budget])
    return stats_of(curves, budget), secs


_keys = {}


def cache_keys(path):
    if path not in _keys:
        with opener(path) as f:
            _keys[path] = set(json.load(f)["tune_params_keys"])
    return _keys[path]


def run_ours(autotune, cache_path, seeds, budget):
    out = subprocess.run([autotune, "simulate", cache_path, "--seeds", str(seeds), "--budget",
                          str(budget), "--json"], check=True, capture_output=True, text=True)
    space = json.loads(out.stdout)["spaces"][0]
    rows = {}
    for s in space["strategies"]:
        st = {"mean": dict(zip(s["checkpoints"], s["mean"])),
              "median": dict(zip(s["checkpoints"], s["median"])), "to": {}}
        for e in s["evals_to"]:
            st["to"][e["fraction"]] = (e["median"] if e["median"] is not None else math.inf,
                                       e["reached"])
        rows["autotune " + s["strategy"]] = (st, s["seconds"])
    return space, rows


def fmt_to(v, seeds):
    med, reached = v
    return f"{med:.0f} ({reached}/{seeds})" if math.isfinite(med) else f"- ({reached}/{seeds})"


def compare(args):
    kt = args.kt.split(",") if args.kt else KT_DEFAULT
    for path in args.caches:
        space, rows = run_ours(args.autotune, path, args.seeds, args.budget)
        optimum = space["optimum"]
        for s in kt:
            try:
                rows["kernel_tuner " + s] = run_kt(path, s, args.seeds, args.budget, optimum)
            except Exception as e:  # a strategy that cannot run here is reported, not hidden
                print(f"<!-- kernel_tuner {s} failed: {type(e).__name__}: {e} -->", flush=True)
        print(f"\n### {os.path.basename(path)}: {space['kernel']} on {space['device']}, "
              f"{space['problem']}, {space['configs']} configs ({space['failed']} failed), "
              f"optimum {optimum:.6g} ms\n")
        print(f"{args.seeds} seeds, budget {args.budget} evaluations; fraction of the optimum "
              "as mean / median\n")
        print("| strategy | " + " | ".join(f"@{c}" for c in SHOW) +
              " | evals to 0.95 | evals to 0.98 | seconds |")
        print("|---|" + "---|" * (len(SHOW) + 3))
        for name, (st, secs) in rows.items():
            cells = [f"{st['mean'][c]:.3f} / {st['median'][c]:.3f}" for c in SHOW]
            print(f"| {name} | " + " | ".join(cells) +
                  f" | {fmt_to(st['to'][0.95], args.seeds)} | {fmt_to(st['to'][0.98], args.seeds)}"
                  f" | {secs:.1f} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-cache")
    a.add_argument("jsonl")
    a.add_argument("out")
    a.add_argument("--drop", default="")
    a.add_argument("--problem", default="", help="gemm_gpu lines: the problem path's end")
    b = sub.add_parser("compare")
    b.add_argument("caches", nargs="+")
    b.add_argument("--autotune", default="build/autotune")
    b.add_argument("--seeds", type=int, default=10)
    b.add_argument("--budget", type=int, default=200)
    b.add_argument("--kt", default="")
    args = p.parse_args()
    to_cache(args) if args.cmd == "to-cache" else compare(args)


if __name__ == "__main__":
    main()
