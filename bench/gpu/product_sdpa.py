# product_sdpa.py - the peer for bench/gpu/product.sh's attention step: PyTorch's
# scaled_dot_product_attention (its fastest backend on this GPU) on every attention
# problem the product's database holds, f16 [B][H][S][D], timed like our measurement
# protocol (docs/measure.md): warm-up, the L2 flushed (100 MiB written) between
# repetitions, CUDA events around each call, median of 20; and the ratio of our best
# recorded time to SDPA's. Causal: PyTorch's is_causal aligns the mask top left, ours
# bottom right; they agree when SQ == SK, the only case used here. A peer script only.
import sqlite3
import sys

import torch
from torch_timing import median_us
import torch.nn.functional as F

db = sqlite3.connect(sys.argv[1])
rows = db.execute(
    "SELECT p.dtype, p.layout, p.dims, MIN(t.time_median_us) FROM trials t "
    "JOIN problems p ON p.id = t.problem_id WHERE p.op = 'attention' AND t.status = 'ok' "
    "GROUP BY p.id").fetchall()


print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}")
for dtype, layout, dims, ours in rows:
    d = dict(kv.split("=") for kv in dims.split(","))
    B, H, SQ, SK = (int(d[k]) for k in ("b", "h", "sq", "sk"))
    D = int(layout[2:].split("_")[0])
    causal = layout.endswith("_causal")
    tt = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}[dtype]
    q = torch.randn(B, H, SQ, D, dtype=tt, device="cuda")
    k = torch.randn(B, H, SK, D, dtype=tt, device="cuda")
    v = torch.randn(B, H, SK, D, dtype=tt, device="cuda")
    sdpa = median_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    print(f"attention {dtype} {layout} {dims}: SDPA {sdpa:.1f} us, autotune best {ours:.1f} "
          f"us: {ours / sdpa:.2f}x SDPA's time")
