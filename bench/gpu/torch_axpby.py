# torch_axpby.py - the peer for bench/gpu/scale_run: PyTorch computing y = a*x + b*y on
# the same N float32 elements (y.mul_(b).add_(x, alpha=a), two kernels, as a user would
# write it) and a plain device-to-device copy of y into x (a measured bandwidth
# ceiling), timed like scale_run: warm-up, the L2 flushed by writing twice its size
# between repetitions, CUDA events around each, median of 20. A peer script only; the
# product is C.
import torch
from torch_timing import median_us

N = 1 << 26
x = torch.rand(N, device="cuda") * 2 - 1
y = torch.rand(N, device="cuda") * 2 - 1


a, b = 1.5, -0.75
axpby = median_us(lambda: y.mul_(b).add_(x, alpha=a))
copy = median_us(lambda: x.copy_(y))
nbytes = N * 4
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: N={N}")
print(f"torch y.mul_(b).add_(x, alpha=a): {axpby:.1f} us = {3 * nbytes / axpby / 1e3:.0f} GB/s "
      f"(counting the 3 arrays' bytes one pass would move)")
print(f"torch copy (read+write): {copy:.1f} us = {2 * nbytes / copy / 1e3:.0f} GB/s")
