"""Peak memory of a stretch of code: resident set size (this process and its children) and CUDA allocations."""

from __future__ import annotations

import threading
from typing import Any

MIB = 2**20


def rss_bytes(process: Any = None) -> int:
    """Resident set size of ``process`` (default: this one) plus its live child processes, in bytes."""
    import psutil

    process = process or psutil.Process()
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # a worker that exited between listing and reading
            continue
    return total


class PeakMemory:
    """Context manager sampling RSS every ``interval_s`` seconds in a background thread.

    After the block: ``peak_rss_mib``, ``start_rss_mib`` and, when CUDA is in use, ``peak_gpu_mib``
    (``torch.cuda.max_memory_allocated`` of the current device since entry). Sampling can
    miss a spike shorter than the interval; RSS counts shared pages of children once per process.
    """

    def __init__(self, interval_s: float = 0.01, cuda: bool | None = None):
        self.interval_s = interval_s
        self.cuda = cuda
        self.peak_rss_mib = self.start_rss_mib = 0.0
        self.peak_gpu_mib: float | None = None
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, rss_bytes())

    def __enter__(self) -> PeakMemory:
        if self.cuda is None:
            self.cuda = _cuda_in_use()
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._peak = rss_bytes()
        self.start_rss_mib = self._peak / MIB
        self._thread = threading.Thread(target=self._poll, name="aigve-peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._peak = max(self._peak, rss_bytes())
        self.peak_rss_mib = self._peak / MIB
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.peak_gpu_mib = torch.cuda.max_memory_allocated() / MIB


def _cuda_in_use() -> bool:
    import sys

    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized())
