# torch_axpby.py - the peer for bench/gpu/scale_run: PyTorch computing y = a*x + b*y on
# the same N float32 elements (y.mul_(b).add_(x, alpha=a), two kernels, as a user would
# write it) and a plain device-to-device copy of y into x (a measured bandwidth
# ceiling), timed like scale_run: warm-up, the L2 flushed by writing twice its size
# between repetitions, CUDA events around each, median of 20. A peer script only; the
# product is C.
import torch

N = 1 << 26
REPS = 20
x = torch.rand(N, device="cuda") * 2 - 1
y = torch.rand(N, device="cuda") * 2 - 1
flush = torch.empty(2 * 50 * 1024 * 1024, dtype=torch.uint8, device="cuda")


def median_us(fn):
    for _ in range(3):
        fn()
    times = []
    for _ in range(REPS):
        flush.fill_(0x5A)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1000.0)
    times.sort()
    return (times[REPS // 2 - 1] + times[REPS // 2]) / 2


a, b = 1.5, -0.75
axpby = median_us(lambda: y.mul_(b).add_(x, alpha=a))
copy = median_us(lambda: x.copy_(y))
nbytes = N * 4
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: N={N}")
print(f"torch y.mul_(b).add_(x, alpha=a): {axpby:.1f} us = {3 * nbytes / axpby / 1e3:.0f} GB/s "
      f"(counting the 3 arrays' bytes one pass would move)")
print(f"torch copy (read+write): {copy:.1f} us = {2 * nbytes / copy / 1e3:.0f} GB/s")
