# torch_timing.py - the timing protocol of the PyTorch peer scripts (bench/gpu/torch_*.py,
# product_sdpa.py), one copy: as our measurement protocol (docs/measure.md), warm-up, the
# L2 flushed (100 MiB written: twice an H100's or H200's 50 MiB L2) between repetitions,
# CUDA events around each call, median of 20.
import torch

REPS = 20
_flush = None


def median_us(fn):
    global _flush
    if _flush is None:
        _flush = torch.empty(100 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    for _ in range(3):
        fn()
    times = []
    for _ in range(REPS):
        _flush.fill_(0x5A)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1000.0)
    times.sort()
    return (times[REPS // 2 - 1] + times[REPS // 2]) / 2
