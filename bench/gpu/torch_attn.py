# torch_attn.py - the peer for bench/gpu/attn_gpu: PyTorch's scaled_dot_product_attention
# (its fastest backend here, FlashAttention-2 on an H100) on the problems attn_emit writes,
# f16, [B][H][S][D] tensors, causal where the problem is (is_causal=True: the mask aligned
# to the top left, the same as ours when SQ == SK; the decode problem is unmasked), timed
# like attn_gpu: warm-up, the L2 flushed (100 MiB written) between repetitions, CUDA
# events around each call, median of 20. TFLOP/s counts 4 D per visible query-key pair,
# as op_attn.h does. A peer script only; the product is C.
import torch
from torch_timing import median_us
import torch.nn.functional as F

PROBLEMS = [  # name, B, H, SQ, SK, D, causal (bench/gpu/attn_emit.c)
    ("attn_b4h32s1024d128", 4, 32, 1024, 1024, 128, False),
    ("attn_b4h32s1024d128_causal", 4, 32, 1024, 1024, 128, True),
    ("attn_b4h32s2048d64_causal", 4, 32, 2048, 2048, 64, True),
    ("attn_decode_b8h32k4096d128", 8, 32, 1, 4096, 128, False),
]


print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
for name, b, h, sq, sk, d, causal in PROBLEMS:
    q = torch.rand(b, h, sq, d, device="cuda", dtype=torch.float16) * 2 - 1
    k = torch.rand(b, h, sk, d, device="cuda", dtype=torch.float16) * 2 - 1
    v = torch.rand(b, h, sk, d, device="cuda", dtype=torch.float16) * 2 - 1
    pairs = sum(min(sk, i + 1) for i in range(sq)) if causal else sq * sk
    us = median_us(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    print(f"{name}: sdpa {us:.1f} us = {4 * d * pairs * b * h / us / 1e6:.2f} TFLOP/s")
