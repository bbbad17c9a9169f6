"""What the machine is: CPU instruction sets, usable cores, GPU. Recorded with every result.

int8 and bf16 pay off on a CPU only with instructions made for them: an int8 dot product
(AVX-512 VNNI, AVX-VNNI, AMX, Arm's dotprod) and native bf16 (AVX512_BF16, AMX, Arm's bf16).
Without them a library emulates the work, and int8 or bf16 can be slower than FP32.
"""

from __future__ import annotations

import functools
import math
import os
import platform
from pathlib import Path

# Feature name -> the /proc/cpuinfo flags that spell it (kernels and vendors differ).
FEATURE_FLAGS = {
    "amx_int8": ("amx_int8",),
    "amx_bf16": ("amx_bf16",),
    "avx512_vnni": ("avx512_vnni", "avx512vnni"),
    "avx512_bf16": ("avx512_bf16",),
    "avx_vnni": ("avx_vnni",),
    "avx512": ("avx512f",),
    "avx2": ("avx2",),
    "arm64_dotprod": ("asimddp",),
    "arm64_i8mm": ("i8mm",),
    "arm64_bf16": ("bf16",),
}
INT8_DOT_PRODUCT = ("amx_int8", "avx512_vnni", "avx_vnni", "arm64_dotprod", "arm64_i8mm")
NATIVE_BF16 = ("amx_bf16", "avx512_bf16", "arm64_bf16")
# The best first; arm64 is decided by the machine, not by a flag.
ISA_ORDER = ("amx_int8", "avx512_vnni", "avx512", "avx_vnni", "avx2")
# Optimum's AutoQuantizationConfig has avx2, avx512, avx512_vnni and arm64: the closest for each ISA.
OPTIMUM_ISA = {"amx_int8": "avx512_vnni", "avx512_vnni": "avx512_vnni", "avx512": "avx512", "avx_vnni": "avx2",
               "avx2": "avx2", "arm64": "arm64"}


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_features(flags: frozenset[str] | None = None) -> tuple[str, ...]:
    """The features of FEATURE_FLAGS this CPU has, in that table's order."""
    flags = cpu_flags() if flags is None else flags
    return tuple(name for name, spellings in FEATURE_FLAGS.items() if set(spellings) & flags)


def cpu_isa(flags: frozenset[str] | None = None, machine: str | None = None) -> str:
    """The best instruction set for int8 here: amx_int8, avx512_vnni, avx512, avx_vnni, avx2, arm64 or unknown."""
    if (machine or platform.machine()).lower() in ("aarch64", "arm64"):
        return "arm64"
    features = cpu_features(flags)
    return next((isa for isa in ISA_ORDER if isa in features), "unknown")


def has_int8_dot_product() -> bool:
    return bool(set(INT8_DOT_PRODUCT) & set(cpu_features()))


NO_NATIVE_BF16 = "this CPU has no native bf16 (no avx512_bf16, amx_bf16 or arm64 bf16)"


def cpu_has_native_bf16() -> bool:
    return bool(set(NATIVE_BF16) & set(cpu_features()))


@functools.cache
def _cpuinfo(field: str) -> str | None:
    """The first value of a /proc/cpuinfo field ("model name", "vendor_id", "cpu family", "model"), or None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == field:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_vendor() -> str:
    """AuthenticAMD, GenuineIntel, ... ("unknown" where /proc/cpuinfo does not say: Arm, macOS)."""
    return _cpuinfo("vendor_id") or "unknown"


def cpu_family_model() -> str | None:
    """"family 26 model 2": the generation, where a hypervisor shows only "AMD EPYC" as the name (x86 only)."""
    family, model = _cpuinfo("cpu family"), _cpuinfo("model")
    return f"family {family} model {model}" if family and model else None


def physical_cores() -> int:
    """Physical cores, but no more than the CPUs this process may use: its affinity and its cgroup's CPU quota.

    A container limited to 2 CPUs on a 64-core host sees 64 cores in /proc and through psutil; torch
    and ONNX Runtime given 64 threads there would fight over 2 CPUs' worth of time.
    """
    import psutil

    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = min(cores, len(os.sched_getaffinity(0)))
    quota = cgroup_cpu_limit()
    return max(1, min(cores, math.floor(quota)) if quota else cores)


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path | None = None, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs' worth of time this process's cgroup may use (quota / period), or None when unlimited or unknown.

    cgroup v2: `cpu.max` ("max 100000" or "200000 100000") in the process's own group; cgroup v1:
    `cpu.cfs_quota_us` (-1 when unlimited) and `cpu.cfs_period_us` under the cpu controller.
    """
    root = CGROUP_ROOT if root is None else root
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    fields = [line.split(":", 2) for line in lines if line.count(":") >= 2]  # hierarchy-id:controllers:path
    v2_path = next((path for hierarchy, controllers, path in fields if hierarchy == "0" and not controllers), "/")
    v1_path = next((path for _, controllers, path in fields if "cpu" in controllers.split(",")), "/")
    candidates = [
        (root / v2_path.lstrip("/") / "cpu.max", None), (root / "cpu.max", None),
        (root / "cpu" / v1_path.lstrip("/") / "cpu.cfs_quota_us", "cpu.cfs_period_us"),
        (root / "cpu" / "cpu.cfs_quota_us", "cpu.cfs_period_us"),
        (root / "cpu,cpuacct" / "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    ]
    for path, period_name in candidates:
        try:
            text = path.read_text().split()
            if period_name is None:
                quota, period = text[0], text[1]
            else:
                quota, period = text[0], path.with_name(period_name).read_text().split()[0]
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1") or int(quota) <= 0 or int(period) <= 0:
            return None
        return int(quota) / int(period)
    return None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def gpu_name() -> str | None:
    if not cuda_available():
        return None
    import torch

    return torch.cuda.get_device_name()


def gpu_details() -> dict | None:
    """What a CUDA figure depends on beyond the GPU's name: driver, CUDA and cuDNN versions, maximum clocks (nvidia-smi's,
    where it is on the PATH; left out where it is not)."""
    if not cuda_available():
        return None
    import shutil
    import subprocess

    import torch

    details = {"name": torch.cuda.get_device_name(), "capability": ".".join(map(str, torch.cuda.get_device_capability())),
               "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    if shutil.which("nvidia-smi"):
        fields = ("driver_version", "clocks.max.sm", "clocks.max.mem", "power.limit")  # stable ones: machine_info
        try:
            out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.splitlines()
            details.update(zip(fields, (v.strip() for v in out[0].split(",")), strict=False))
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    return details


def describe() -> dict:
    return {"cpu": cpu_name(), "cpu_vendor": cpu_vendor(), "cpu_family_model": cpu_family_model(),
            "cpu_isa": cpu_isa(), "cpu_features": list(cpu_features()),
            "int8_dot_product": has_int8_dot_product(), "native_bf16": cpu_has_native_bf16(),
            "physical_cores": physical_cores(), "gpu": gpu_name(), "gpu_details": gpu_details()}
