# Thread control shared by the PyTorch peers: Debian's torch calls the system OpenBLAS for some products, whose
# thread count torch.set_num_threads does not control, so "one thread" must also be set in every loaded OpenBLAS.
import ctypes

import torch


def blas_thread_setters():
    """openblas_set_num_threads of every OpenBLAS this process loaded."""
    setters = []
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line and line.split()[-1].startswith("/")}
    for path in sorted(paths):
        try:
            setters.append(ctypes.CDLL(path).openblas_set_num_threads)
        except (OSError, AttributeError):
            pass
    return setters


def set_threads(threads, setters=None):
    """torch's intra-op threads and every loaded OpenBLAS's threads."""
    torch.set_num_threads(threads)
    for setter in setters if setters is not None else blas_thread_setters():
        setter(threads)
