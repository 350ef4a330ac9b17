"""Choosing the device, precision, batch size and CPU threads for inference.

CUDA runs under ``torch.autocast(bfloat16)`` (fp16 on GPUs without bf16) with larger batches (batches with auxiliary layers only
for a model checked for it, DeepLightSR: :func:`deeplight.infer.engine.reduced_precision_allowed`);
Apple MPS and CPU run in float32.
Everything runs under ``torch.inference_mode``. ``device="auto"`` picks CUDA, then MPS, then CPU.
:func:`configure_runtime` is the one place that sets a process up for CPU inference: passive OpenMP
waits, glibc malloc thresholds (:mod:`deeplight.runtime`) and torch's thread count.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from deeplight.errors import ConfigError
from deeplight.runtime import ProcessSettings, prepare_process

# Tiles per batch when the caller does not say. A 128x128 LR tile of DeepLightSR (demo preset) needs
# ~0.33 GB of float32 activations (measured, docs/inference.md); on CPU a batch brings no speed-up
# (convolutions already use every core), so CPUs get 1 and GPUs larger batches.
DEFAULT_BATCH_SIZE = {"cpu": 1, "mps": 4, "cuda": 16}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``device`` ("auto", "cpu", "cuda", "cuda:N", "mps").

    Raises:
        ConfigError: an unknown name, or a device that this machine does not have.
    """
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available here: use --device cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif resolved.type == "mps":
        if not _mps_available():
            raise ConfigError(
                f"device {name!r} requested but Apple MPS is not available here: use --device cpu"
            )
    elif resolved.type != "cpu":
        raise ConfigError(f"unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return resolved


def default_batch_size(device: torch.device) -> int:
    """Tiles per batch for ``device`` when the caller gives none."""
    return DEFAULT_BATCH_SIZE.get(device.type, 1)


def cuda_autocast_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it, else fp16 (pre-Ampere GPUs). DeepLightSR's output is within 0.02
    of float32 in both (fp16 even closer: 0.0012 vs 0.0146 on demo crops with DMO + DEM,
    ``benchmarks/results/precision.md``); fp16 has no loss scaling to worry about at inference."""
    if not torch.cuda.is_available():  # nothing to ask (a CPU-only build answers False)
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def precision_key(device: torch.device) -> dict[str, str]:
    """The part of a cache key that names the reduced precision ``device`` computes in: ``{}`` where
    inference runs in float32 (CPU, MPS: keys as before), ``{"precision": "bfloat16"}`` or ``"float16"``
    on CUDA, so a bf16 and an fp16 GPU sharing one cache do not reuse each other's tiles."""
    if device.type != "cuda":
        return {}
    return {"precision": str(cuda_autocast_dtype(device)).removeprefix("torch.")}


@contextlib.contextmanager
def inference_context(device: torch.device, reduced_precision: bool = True) -> Iterator[None]:
    """``torch.inference_mode`` plus reduced-precision autocast on CUDA when ``reduced_precision``
    (:func:`cuda_autocast_dtype`: bf16, or fp16 where the GPU lacks bf16; float32 elsewhere).

    The engine asks for it per batch (:func:`deeplight.infer.engine.reduced_precision_allowed`): always
    without DMO / DEM, with them only for DeepLightSR, which keeps float32 where rounding is amplified
    (its module docstring; 0.0146 off float32 on demo crops with DMO + DEM, 0.18 before). Checked on
    the CPU (``tests/models/test_guarantees.py``).
    """
    with torch.inference_mode():
        if device.type == "cuda" and reduced_precision:
            with torch.autocast(device_type="cuda", dtype=cuda_autocast_dtype(device)):
                yield
        else:
            yield


def sensible_cpu_threads(workers: int = 1) -> int:
    """CPU threads per process: ``OMP_NUM_THREADS`` if set, else the idle cores / ``workers``.

    Idle cores = usable cores minus the 1-minute load average (at least 1). On a machine shared with
    other jobs, more OpenMP threads than idle cores makes torch much slower, not faster (measured
    here at load ~8 on 2 cores: the same tiles took 1.2 s with 1 thread and 7.0 s with 2).
    """
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        idle = max(1, round(cores - os.getloadavg()[0]))
    except (AttributeError, OSError):  # Windows has no load average
        idle = cores
    return max(1, min(cores, idle) // max(1, workers))


def configure_cpu_threads(threads: int | None = None, workers: int = 1) -> int:
    """Set torch's intra-op threads (``threads`` or :func:`sensible_cpu_threads`); returns the count."""
    count = threads if threads and threads > 0 else sensible_cpu_threads(workers)
    torch.set_num_threads(count)
    return count


@dataclass(frozen=True)
class RuntimeSettings:
    """What :func:`configure_runtime` set.

    Attributes:
        threads: torch intra-op threads of this process.
        process: the OpenMP wait policy and malloc settings (:class:`deeplight.runtime.ProcessSettings`).
    """

    threads: int
    process: ProcessSettings

    def describe(self) -> str:
        """One line for logs and benchmark headers."""
        policy = self.process.wait_policy or "unset"
        if not self.process.wait_policy_effective:
            policy += " (set after torch was loaded: child processes only)"
        malloc = ", ".join(self.process.malloc_tuned) or "not tuned (not glibc, or set by the user)"
        return f"{self.threads} torch thread(s), OMP_WAIT_POLICY={policy}, mallopt: {malloc}"


_CONFIGURED: dict[str, RuntimeSettings] = {}


def configure_runtime(threads: int | None = None, workers: int = 1, *, once: bool = False) -> RuntimeSettings:
    """Set this process up for CPU inference: passive OpenMP waits, malloc thresholds, torch threads.

    The wait policy only takes effect in this process when no module imported torch before; entry
    points therefore call :func:`deeplight.runtime.prepare_process` first thing, then this.

    Args:
        threads: torch threads (None or 0: :func:`sensible_cpu_threads`, i.e. the idle cores / ``workers``).
        workers: processes sharing this machine's cores (for the default thread count).
        once: keep the settings of an earlier call (a Streamlit script runs again on every
            interaction; changing the thread count under a running inference helps no one).

    Returns:
        :class:`RuntimeSettings`.
    """
    if once and "settings" in _CONFIGURED:
        return _CONFIGURED["settings"]
    process = prepare_process()
    settings = RuntimeSettings(threads=configure_cpu_threads(threads, workers), process=process)
    _CONFIGURED["settings"] = settings
    return settings
