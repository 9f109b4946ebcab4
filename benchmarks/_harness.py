"""Timing, interleaving and statistics shared by every workload of the benchmark suite.

The method (see README.md):

- each competitor is one callable that performs one iteration (a training step, a forward and
  backward pass), or a ``timed(n)`` function that performs n iterations and returns the seconds
  that count (for "backward alone", whose graph is built outside the clock);
- warm-up first: every competitor runs for ``warmup_s``, which also calibrates how many
  iterations make one sample of about ``target_s`` seconds;
- then ``rounds`` rounds, the competitors interleaved (A B C, then C B A, then A B C, ...: the
  order alternates so that neither position is favoured); each sample is the time per iteration
  over its batch of iterations;
- before each sample, untimed: ``gc.collect()``, so that every competitor pays for its own
  garbage while the collector stays on, as users run Python; then ``settle()``: a wait until
  this process's own threads are idle. OpenBLAS's worker threads spin for about 0.1 s after each
  call (PyTorch's OpenMP workers for about 10 ms); a competitor started at once would share the
  two cores with them (PyTorch's step measured 1.5x slower right after NumPy's for that alone);
- before the warm-up, every object that exists (each library's imports, the models, the data)
  is moved out of the collector's sight with ``gc.freeze()``: the competitors share a process,
  and otherwise each full collection would also walk PyTorch's ~145,000 Python objects (in (g)
  that doubled chainrule's time), a cost that a program importing only its own library never
  pays. The collector still sees, and collects, everything created while timing;
- the machine may be shared: the CPU time used by other processes (and stolen by the hypervisor)
  during each sample is read from /proc/stat. A round in which it exceeds ``noise_limit`` cores
  during any sample does not count: rounds go on until ``rounds`` quiet ones are in, or until
  ``max_s`` seconds have passed, when the quietest of the rounds run fill the rest (each kept
  round's load is recorded, and the report counts the noisy ones);
- per competitor: median, min and max of the samples; per pair: the ratio of the two samples of
  the same round (competitor's time / chainrule's time, so > 1 means chainrule is faster), and
  the median, min and max of those ratios.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The issue's targets, per workload: chainrule's ratio to a competitor (their time / chainrule's,
#: or for memory chainrule's peak / theirs) must be at least (or at most) this. The ceiling's
#: ratio is the fraction of the matmul ceiling chainrule's step reaches.
TARGETS: dict[str, list[dict[str, Any]]] = {
    "a": [{"competitor": "torch", "at_least": 1.3}, {"competitor": "numpy", "at_least": 0.9}],
    "b": [
        {"competitor": "torch", "at_least": 1.05},
        {"competitor": "numpy", "at_least": 0.95},
        {"competitor": "ceiling", "at_least": 0.75},
    ],
    # (c) and (e) are training steps, which `chainrule train` runs through cr.compile: their
    # targets are judged on the eager step and on the compiled one ("by"), each in its own row
    "c": [
        {"competitor": "torch", "at_least": 3.0},
        {"competitor": "torch", "at_least": 3.0, "by": "compiled"},
        {"competitor": "numpy", "at_least": 1.0},
        {"competitor": "numpy", "at_least": 1.0, "by": "compiled"},
    ],
    "d": [{"competitor": "micrograd", "at_least": 1.0}, {"competitor": "torch", "at_least": 5.0}],
    "e": [
        {"competitor": "micrograd", "at_least": 5000.0},
        {"competitor": "micrograd", "at_least": 5000.0, "by": "compiled"},
    ],
    "f": [{"competitor": "sklearn", "at_least": 1.0}],
    "g": [],
    "h": [{"competitor": "numpy", "at_most": 1.25}],
    "i": [{"competitor": "torch", "at_least": 0.7}],
    "j": [],  # reported beside (i)
}

#: The thread count of every BLAS and of PyTorch, as the issue asks (2 on a 2-core machine).
THREADS = int(os.environ.get("CHAINRULE_BENCH_THREADS", "2"))


# ----- settings of one run -----
@dataclass
class Settings:
    """How long and how often to measure; ``quick`` makes a smoke run."""

    quick: bool = False
    rounds: int = 7
    target_s: float = 0.12
    warmup_s: float = 0.3
    noise_limit: float = 0.25
    max_s: float = 30.0

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:  # no quiet rounds waited for: a smoke run
            return cls(quick=True, rounds=2, target_s=0.02, warmup_s=0.03, max_s=0.0)
        return cls()


# ----- threads and BLAS -----
_limits: Any = None


def limit_threads(n: int = THREADS) -> None:
    """Limit every BLAS/OpenMP pool of this process to n threads (threadpoolctl when installed;
    the parent also sets OMP_NUM_THREADS/OPENBLAS_NUM_THREADS/MKL_NUM_THREADS in our
    environment, so this holds without threadpoolctl too)."""
    global _limits
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _limits = threadpool_limits(n)


def limit_torch_threads(torch: Any, n: int = THREADS) -> None:
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before torch's first parallel work
        pass
    limit_threads(n)  # torch's own OpenMP pool is now loaded: limit it too


def threadpools() -> list[dict[str, Any]]:
    """threadpoolctl's view of the loaded pools: library, version, threads, kernel."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl is not installed: pools not inspected"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")
    return [{k: d.get(k) for k in keep if d.get(k) is not None} for d in threadpool_info()]


def describe_pools(pools: list[dict[str, Any]]) -> str:
    parts = []
    for p in pools:
        if "note" in p:
            parts.append(p["note"])
            continue
        s = f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('prefix')}), "
        s += f"{p.get('num_threads')} threads"
        if p.get("architecture"):
            s += f", kernel {p['architecture']}"
        parts.append(s)
    return "; ".join(parts)


# ----- the machine -----
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_family() -> str:
    """Vendor, family and model numbers (a VM often names its CPU only 'AMD EPYC')."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                k, _, v = line.partition(":")
                info[k.strip()] = v.strip()
    except OSError:
        return ""
    flags = set(info.get("flags", "").split())
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return (
        f"{info.get('vendor_id', '?')} family {info.get('cpu family', '?')} "
        f"model {info.get('model', '?')}, {simd}"
    )


def memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def version_of(module: str) -> str | None:
    from importlib import metadata

    dist = {"sklearn": "scikit-learn"}.get(module, module)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cpu_id": cpu_family(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {
            m: version_of(m)
            for m in ("chainrule", "numpy", "torch", "scikit-learn", "micrograd", "threadpoolctl")
        },
    }


# ----- other processes' CPU use, read from /proc/stat -----
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_busy() -> float | None:
    """Seconds of CPU time all processes have used (steal included), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / _HZ


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine_load() -> float | None:
    """Cores' worth of CPU that other processes used over the last 0.5 s."""
    b0, o0, t0 = _cpu_busy(), _own_cpu(), time.perf_counter()
    time.sleep(0.5)
    b1, o1, t1 = _cpu_busy(), _own_cpu(), time.perf_counter()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) - (o1 - o0)) / (t1 - t0)


# ----- competitors and the interleaved measurement -----
@dataclass
class Competitor:
    """One contender of a workload.

    Args:
        key: "chainrule", "numpy", "torch", "sklearn", "micrograd" or "ceiling".
        label: how the table names it.
        step: one iteration, or None when ``timed`` is given.
        timed: ``timed(n) -> seconds``: n iterations, returning only the seconds that count.
        note: said under the table (what is special about this competitor).
    """

    key: str
    label: str
    step: Callable[[], Any] | None = None
    timed: Callable[[int], float] | None = None
    note: str = ""
    n: int = 1
    warmed: bool = False  # True: already warmed up, with n set (a long run done before)
    samples: list[float] = field(default_factory=list)
    noise: list[float] = field(default_factory=list)

    def run(self, n: int) -> float:
        """Seconds per iteration over n iterations."""
        if self.timed is not None:
            return self.timed(n) / n
        step = self.step
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - t0) / n


def _own_precise() -> float:
    """CPU seconds used by every thread of this process, to the microsecond."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def settle(window: float = 0.01, idle: float = 0.002, limit: float = 0.5) -> float:
    """Wait until this process's threads are idle: until a ``window`` of sleep costs it less
    than ``idle`` CPU seconds (BLAS and OpenMP workers spin a while after each call), at most
    ``limit`` seconds. Returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = _own_precise()
        time.sleep(window)
        if _own_precise() - c0 < idle:
            break
    return time.perf_counter() - t0


def _sample(c: Competitor) -> tuple[float, float]:
    """One sample of c (seconds per iteration) and the other processes' load during it, in
    cores (0 when the sample was too short for /proc/stat's 10 ms ticks to tell)."""
    gc.collect()
    settle()
    b0, o0, w0 = _cpu_busy(), _own_cpu(), time.perf_counter()
    t = c.run(c.n)
    b1, o1, w1 = _cpu_busy(), _own_cpu(), time.perf_counter()
    load = 0.0
    if b0 is not None and b1 is not None and w1 - w0 >= 0.05:
        load = max(0.0, (b1 - b0) - (o1 - o0)) / (w1 - w0)
    return t, load


def calibrate(c: Competitor, s: Settings) -> None:
    """Warm up for ``warmup_s`` (at least one iteration) and choose the number of iterations
    per sample so that a sample takes about ``target_s``: from the fastest warm-up batch, since
    a slower one was most likely slowed by other processes."""
    if c.warmed:
        return
    gc.collect()
    settle()
    t0 = time.perf_counter()
    per = c.run(1)
    while time.perf_counter() - t0 < s.warmup_s:
        per = min(per, c.run(max(1, int(min(s.target_s, s.warmup_s) / 2 / max(per, 1e-9)))))
    c.n = max(1, round(s.target_s / max(per, 1e-9)))


def interleave(
    competitors: list[Competitor], s: Settings, reference: str = "chainrule", log: Any = None
) -> dict[str, Any]:
    """Measure the competitors interleaved; return their statistics and the ratios.

    Returns:
        {"competitors": {key: {label, unit, n, median, min, max, samples, noise, note}},
         "ratios": {key: {median, min, max, per_round}} (competitor time / reference time),
         "rounds": R}
    """
    gc.collect()
    gc.freeze()  # see the module's docstring: the other libraries' objects are not ours to walk
    frozen = gc.get_freeze_count()
    try:
        out = _measure(competitors, s, reference, log)
    finally:
        gc.unfreeze()
    out["gc_frozen_objects"] = frozen
    return out


def _measure(
    competitors: list[Competitor], s: Settings, reference: str, log: Any
) -> dict[str, Any]:
    for c in competitors:
        calibrate(c, s)
        if log:
            log(f"    warmed up {c.label}: {c.n} iterations per sample")
    rounds: list[dict[str, tuple[float, float]]] = []
    t_start = time.perf_counter()
    while True:
        order = competitors if len(rounds) % 2 == 0 else competitors[::-1]
        rounds.append({c.key: _sample(c) for c in order})
        quiet = [r for r in rounds if _round_load(r) <= s.noise_limit]
        if len(quiet) >= s.rounds:
            break
        if len(rounds) >= s.rounds and time.perf_counter() - t_start >= s.max_s:
            break
    # the quiet rounds first, then the least noisy; kept in time order
    ranked = sorted(
        range(len(rounds)),
        key=lambda i: (_round_load(rounds[i]) > s.noise_limit, _round_load(rounds[i]), i),
    )
    kept = [rounds[i] for i in sorted(ranked[: s.rounds])]
    for r in kept:
        for c in competitors:
            c.samples.append(r[c.key][0])
            c.noise.append(r[c.key][1])
    out = summarize(competitors, reference, len(kept))
    out["rounds_run"] = len(rounds)
    out["noisy_rounds_kept"] = sum(_round_load(r) > s.noise_limit for r in kept)
    if log and len(rounds) > len(kept):
        log(
            f"    {len(rounds)} rounds run to keep {len(kept)}, "
            f"{out['noisy_rounds_kept']} of them noisy (other processes above the limit)"
        )
    return out


def _round_load(r: dict[str, tuple[float, float]]) -> float:
    return max(load for _, load in r.values())


def summarize(competitors: list[Competitor], reference: str, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"competitors": {}, "ratios": {}, "rounds": rounds}
    ref = next((c for c in competitors if c.key == reference), None)
    for c in competitors:
        out["competitors"][c.key] = {
            "label": c.label,
            "n_per_sample": c.n,
            **stats(c.samples),
            "samples": c.samples,
            "noise_cores": [round(x, 3) for x in c.noise],
            "note": c.note,
        }
        if ref is not None and c is not ref and len(c.samples) == len(ref.samples):
            per_round = [a / b for a, b in zip(c.samples, ref.samples)]
            out["ratios"][c.key] = {**stats(per_round), "per_round": per_round}
    return out


def stats(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


# ----- formatting -----
def fmt_time(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def fmt_ratio(r: float) -> str:
    if r != r:
        return "n/a"
    if r >= 100:
        return f"{r:,.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    if r >= 0.1:
        return f"{r:.2f}x"
    return f"{r:.2g}x"


def say(msg: str) -> None:
    """Progress goes to stderr; stdout stays free for the child protocol."""
    print(msg, file=sys.stderr, flush=True)


def build(builders: dict[str, Any], modules: dict[str, str], problem: Any) -> tuple[dict, dict]:
    """Each competitor of ``builders`` built on ``problem`` where its library imports:
    (built, skips), the notes saying why the others are skipped (``skipped``)."""
    built: dict[str, Any] = {}
    skips: dict[str, str] = {}
    for name, cls in builders.items():
        note = skipped(modules[name])
        if note:
            skips[name] = note
        else:
            built[name] = cls(problem)
    return built, skips


def skipped(module: str) -> str | None:
    """None when ``module`` imports, else the note that says why its competitor is skipped."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as e:
        pip = {"sklearn": "scikit-learn"}.get(module, module)
        return f"skipped: {module} is not installed ({e.__class__.__name__}); pip install {pip}"
    return None
