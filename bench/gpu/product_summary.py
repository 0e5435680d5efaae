# product_summary.py - the summary of bench/gpu/product.sh as Markdown: the run's
# provenance, per problem the best variant and its template's default and the naive
# baseline as the product recorded them, then the header-vs-cuBLAS and SDPA lines.
# A bench script only: it reads the database the product wrote.
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
print("# The product on a GPU: bench/gpu/product.sh\n")
for r in db.execute("SELECT host, driver, runtime, gpu_name, gpu_uuid, sm_clock_start_mhz, "
                    "sm_clock_end_mhz, power_limit_start_w, toolchain, strategy, args "
                    "FROM runs ORDER BY id"):
    print(f"- run on {r[0]}: driver {r[1]}, runtime {r[2]}, {r[3]} ({r[4]}), SM clock "
          f"{r[5]} -> {r[6]} MHz, power limit {r[7]} W, code from {r[8]}, {r[9]}: `{r[10]}`")
print("\n| op | dtype | layout | dims | best template | config | time (us) | TFLOP/s | "
      "default (us) | naive (us) | trials | throttled |")
print("|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|")
q = """
SELECT p.op, p.dtype, p.layout, p.dims, k.template, c.text, t.time_median_us, t.tflops,
  (SELECT COUNT(*) FROM trials x WHERE x.problem_id = p.id),
  (SELECT COUNT(*) FROM trials x WHERE x.problem_id = p.id AND x.throttled = 1),
  (SELECT MIN(x.time_median_us) FROM trials x JOIN kernels kx ON kx.id = x.kernel_id
     WHERE x.problem_id = p.id AND kx.template = 'gemm_naive' AND x.status = 'ok'),
  p.id
FROM winners w JOIN trials t ON t.id = w.trial_id JOIN problems p ON p.id = w.problem_id
  JOIN kernels k ON k.id = w.kernel_id JOIN configs c ON c.id = t.config_id
WHERE w.time_median_us = (SELECT MIN(w2.time_median_us) FROM winners w2
  JOIN kernels k2 ON k2.id = w2.kernel_id
  WHERE w2.problem_id = p.id AND k2.template <> 'gemm_naive')
ORDER BY p.op, p.dtype, p.id
"""
for r in db.execute(q):
    dflt = db.execute("SELECT t.time_median_us FROM trials t JOIN kernels k ON k.id = "
                      "t.kernel_id WHERE t.problem_id = ? AND k.template = ? AND t.status = "
                      "'ok' ORDER BY t.id LIMIT 1", (r[11], r[4])).fetchone()
    d = f"{dflt[0]:.1f}" if dflt else "-"
    nv = f"{r[10]:.1f}" if r[10] else "-"
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | `{r[5]}` | {r[6]:.1f} | "
          f"{(r[7] or 0):.1f} | {d} | {nv} | {r[8]} | {r[9]} |")
print("\n(default: the template's first trial of the run, its default config.)\n")
for f, title in ((sys.argv[2], "The header against cuBLAS"), (sys.argv[3], "SDPA")):
    print(f"## {title}\n\n```")
    try:
        print(open(f).read().rstrip())
    except OSError as e:
        print(f"(none: {e})")
    print("```\n")
