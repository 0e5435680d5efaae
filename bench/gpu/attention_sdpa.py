# attention_sdpa.py - the peer and the summary of bench/gpu/attention.sh, as Markdown: for
# every attention problem the run's database holds, our best recorded variant (template,
# config, median time) against PyTorch's scaled_dot_product_attention on the same problem
# in the same run: prefill against SDPA's flash and cuDNN backends (forced one at a
# time), decode against SDPA with enable_gqa (its own backend choice); decode also as a
# share of the memory bandwidth: bytes (Q, K, V read once, O written once; K and V of
# the HKV heads) over time, against a device-to-device copy measured here first (bytes
# read plus written) and the datasheet's 4.8 TB/s. Timing as our protocol
# (torch_timing.py: warm-up, L2 flushed, CUDA events, median of 20). Causal: SDPA's
# is_causal aligns the mask top left, ours bottom right; they agree when SQ == SK (the
# prefill problems); a decode query (SQ 1) sees every key, which is SDPA's is_causal=False.
# A peer script only; the product is C.
#
#   python3 attention_sdpa.py DB        (on the GPU node)
#   python3 attention_sdpa.py --dry-run DB   (here: the problems and the table's header)
import sqlite3
import sys

DATASHEET_TBS = 4.8  # H200 SXM HBM3e, vendor datasheet
DTYPE_BYTES = {"f16": 2, "bf16": 2, "f32": 4}

dry = len(sys.argv) > 1 and sys.argv[1] == "--dry-run"
path = sys.argv[2 if dry else 1]


def parse(layout, dims):
    """The problem from its database key: hd<D>[_causal][_decode][_paged][_lse]."""
    words = layout.split("_")
    d = dict(kv.split("=") for kv in dims.split(","))
    p = {k: int(v) for k, v in d.items()}
    p.setdefault("hkv", p["h"])
    p["d"] = int(words[0][2:])
    p["causal"] = "causal" in words
    p["decode"] = "decode" in words
    return p


def nbytes(p, es):
    q = p["b"] * p["h"] * p["sq"] * p["d"]
    kv = p["b"] * p["hkv"] * p["sk"] * p["d"]
    return es * (2 * q + 2 * kv)


def best_rows(db):
    q = """
    SELECT p.dtype, p.layout, p.dims, k.template, c.text, t.time_median_us,
      (SELECT COUNT(*) FROM trials x WHERE x.problem_id = p.id),
      (SELECT COUNT(*) FROM trials x WHERE x.problem_id = p.id AND x.status = 'ok')
    FROM winners w JOIN trials t ON t.id = w.trial_id JOIN problems p ON p.id = w.problem_id
      JOIN kernels k ON k.id = w.kernel_id JOIN configs c ON c.id = t.config_id
    WHERE p.op = 'attention' AND w.time_median_us = (SELECT MIN(w2.time_median_us)
      FROM winners w2 WHERE w2.problem_id = p.id)
    ORDER BY p.layout, p.id"""
    try:
        return db.execute(q).fetchall()
    except sqlite3.Error as e:  # no database yet (dry run before any step)
        print(f"(no results in {path}: {e})")
        return []


def per_template(db):
    """Each template's best time on each problem (its winner), fastest first: which
    template won, and by how much over the others (attn_decode against attn_decode_mma on
    the decode problems, say). No GPU needed: the database alone."""
    q = """
    SELECT p.layout, p.dims, k.template, w.time_median_us, c.text
    FROM winners w JOIN problems p ON p.id = w.problem_id JOIN kernels k ON k.id = w.kernel_id
      JOIN trials t ON t.id = w.trial_id JOIN configs c ON c.id = t.config_id
    WHERE p.op = 'attention' ORDER BY p.layout, p.id, w.time_median_us"""
    try:
        got = db.execute(q).fetchall()
    except sqlite3.Error as e:
        print(f"(no per-template results: {e})")
        return
    print("\n## Each template's best\n")
    print("| problem | template | best (us) | over the problem's best | config |")
    print("|---|---|---:|---:|---|")
    first = {}
    for r in got:
        key = (r[0], r[1])
        first.setdefault(key, r[3])
        print(f"| {r[0]} {r[1]} | {r[2]} | {r[3]:.1f} | {r[3] / first[key]:.2f}x | {r[4]} |")


db = sqlite3.connect(path)
rows = best_rows(db)
if dry:
    print("# Attention on the H200 (dry run: no GPU, no times)\n")
    print("| problem | ours best (us) | template | SDPA flash (us) | SDPA cuDNN (us) | "
          "ours / best SDPA | % of copy bandwidth |")
    for r in rows:
        print(f"| {r[1]} {r[2]} | {r[5]:.1f} | {r[3]} | - | - | - | - |")
    per_template(db)
    sys.exit(0)

import torch  # noqa: E402  (the GPU node only)
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch_timing import median_us  # noqa: E402

TT = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}

# the memory ceiling, now: a 4 GiB device-to-device copy, bytes read plus written
src = torch.empty(1 << 31, dtype=torch.bfloat16, device="cuda")
dst = torch.empty_like(src)
copy_us = median_us(lambda: dst.copy_(src))
copy_tbs = 2 * src.numel() * 2 / copy_us / 1e6
del src, dst

name = torch.cuda.get_device_name()
print(f"# Attention on {name} (bench/gpu/attention.sh)\n")
print(f"measured on {name}, torch {torch.__version__}, cuDNN "
      f"{torch.backends.cudnn.version()}; device-to-device copy {copy_tbs:.2f} TB/s "
      f"(datasheet {DATASHEET_TBS} TB/s)\n")
try:
    for r in db.execute("SELECT gpu_name, driver, sm_clock_start_mhz, sm_clock_end_mhz, args "
                        "FROM runs ORDER BY id"):
        print(f"- run: {r[0]}, driver {r[1]}, SM clock {r[2]} -> {r[3]} MHz: `{r[4]}`")
except sqlite3.Error as e:  # no run recorded (every step failed): say so, go on
    print(f"- no run recorded in the database ({e})")


def sdpa_us(p, dt, backend):
    g = torch.Generator(device="cuda").manual_seed(1)
    q = torch.rand(p["b"], p["h"], p["sq"], p["d"], device="cuda", dtype=dt, generator=g) - 0.5
    k = torch.rand(p["b"], p["hkv"], p["sk"], p["d"], device="cuda", dtype=dt, generator=g) - 0.5
    v = torch.rand(p["b"], p["hkv"], p["sk"], p["d"], device="cuda", dtype=dt, generator=g) - 0.5
    # SDPA's is_causal is top left: for a decode step (queries at the end of the cache)
    # the peer runs unmasked, the same cost (SQ - 1 of SQ x SK pairs masked in ours)
    causal = p["causal"] and not p["decode"]
    gqa = p["hkv"] != p["h"]

    def call():
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)

    try:
        if backend is None:
            return median_us(call)
        with sdpa_kernel(backend):
            return median_us(call)
    except RuntimeError as e:  # the backend refused the problem
        print(f"  ({backend}: {str(e).splitlines()[0][:100]})", file=sys.stderr)
        return None


def f(x):
    return f"{x:.1f}" if x else "-"


print("\n## Prefill (bf16, hd128, 32 heads, ~64k tokens)\n")
print("| problem | ours best (us) | template | trials ok | SDPA flash (us) | SDPA cuDNN (us) | "
      "ours / best SDPA |")
print("|---|---:|---|---:|---:|---:|---:|")
for r in rows:
    p = parse(r[1], r[2])
    if p["decode"]:
        continue
    fl = sdpa_us(p, TT[r[0]], SDPBackend.FLASH_ATTENTION)
    cu = sdpa_us(p, TT[r[0]], SDPBackend.CUDNN_ATTENTION)
    best = min([x for x in (fl, cu) if x] or [0])
    ratio = f"{r[5] / best:.2f}x" if best else "-"
    print(f"| {r[1]} {r[2]} | {r[5]:.1f} | {r[3]} | {r[7]}/{r[6]} | {f(fl)} | {f(cu)} | "
          f"{ratio} |")

print("\n## Decode (bf16, hd128, 32 query / 8 KV heads, one new query; sq=4: a "
      "speculative-decoding step)\n")
print("| problem | ours best (us) | template | trials ok | ours % of copy BW | SDPA (us) | "
      "SDPA % of copy BW | ours / SDPA |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for r in rows:
    p = parse(r[1], r[2])
    if not p["decode"]:
        continue
    by = nbytes(p, DTYPE_BYTES[r[0]])
    sd = sdpa_us(p, TT[r[0]], None)
    ours_bw = by / r[5] / 1e6 / copy_tbs * 100
    sd_bw = f"{by / sd / 1e6 / copy_tbs * 100:.0f}%" if sd else "-"
    ratio = f"{r[5] / sd:.2f}x" if sd else "-"
    print(f"| {r[1]} {r[2]} | {r[5]:.1f} | {r[3]} | {r[7]}/{r[6]} | {ours_bw:.0f}% | {f(sd)} | "
          f"{sd_bw} | {ratio} |")
print("\n(ours / SDPA: our best time over SDPA's; below 1 is faster. % of copy BW: the "
      "problem's bytes over the time, against the copy measured above.)")
per_template(db)
