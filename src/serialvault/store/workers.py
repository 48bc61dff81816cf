"""The helper process of capture and replay, which must die with its parent.

Capture and replay prepare the next batch in a forked worker process. If the parent is
killed (``kill -9``, the OOM killer), a forked worker inherits both ends of its task pipe,
never sees end-of-file and would wait forever — an orphan holding ~100 MiB per killed
parent. On Linux the worker asks the kernel to send it SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``); elsewhere a watchdog thread checks the parent's pid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except OSError:
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="sv-parent-watch").start()


def worker_pool(workers: int = 1) -> ProcessPoolExecutor | None:
    """Forked workers that die with this process; ``None`` where fork is missing."""
    if "fork" not in mp.get_all_start_methods():
        return None
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("fork"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )
