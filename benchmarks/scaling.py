"""Scaling: 1 against 2 MPI ranks (data-parallel steps), 1 against 2 sweep workers, the Allreduce.

    python benchmarks/scaling.py                   # all three parts, about 2-4 minutes here
    python benchmarks/scaling.py --part dp         # dp, sweep, allreduce or all
    python benchmarks/scaling.py --executor ray    # the sweep part on Ray (or dask) too
    python benchmarks/scaling.py --part model      # the cost model's table, from dp's times

Not a timed test: it measures, prints a table and writes ``benchmarks/scaling.json``, which
docs/distributed.md quotes (with the machine it ran on). It needs mpi4py and an MPI with
``mpiexec`` (``pip install 'chainrule[mpi]' mpich``) for the MPI parts.

- **dp**: one training step (forward, cross-entropy, backward, gradient allreduce, SGD) of the
  lecture's 3072-100-10 and 3072-1024-1024-10 MLPs at a global batch of 256, float32, on
  random CIFAR-shaped data: 1 rank with 1 BLAS thread, 1 rank with 2 threads, and 2 ranks with
  1 thread each (``mpiexec -n 2``, each rank its 128 rows). Reported: the median time per step
  over rounds of steps, the time in the gradient allreduce, and the bytes each rank sends into
  it per step.
- **sweep**: ``run_sweep`` over 4 grid points (digits, 60 epochs each) with 1 and 2 local workers
  (and with ``--executor``, that executor's local cluster of 2 workers): wall time of the sweep.
- **allreduce**: ``MPI_Allreduce`` of 8 B to 32 MiB between 2 ranks on this machine, the median of
  many calls; a least-squares fit ``t = alpha + bytes / beta`` gives this machine's latency and
  bandwidth (shared memory, not a network: the cost model in the docs uses a network's).
- **model**: the cost model on paper (docs/distributed.md): the step time per node measured by
  dp plus a ring Allreduce of the gradients' bytes over 8 and 64 nodes of a 10 Gb Ethernet and
  a 100 Gb InfiniBand network (the latency and bandwidth in ``NETWORKS``), printed as a table.

Workers (internal): ``mpiexec -n N python benchmarks/scaling.py --dp-worker NET --out FILE`` and
``--allreduce-worker --out FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NETS = {"3072-100-10": (3072, [100], 10), "3072-1024-1024-10": (3072, [1024, 1024], 10)}
BATCH = 256


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def _mpirun(n: int, args: list[str], threads: int) -> dict:
    beside = Path(sys.executable).parent / "mpiexec"  # where the mpich wheel puts it
    mpiexec = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("scaling.py: mpiexec not found: pip install 'chainrule[mpi]' mpich")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [mpiexec, "-n", str(n), sys.executable, __file__, *args, "--out", str(out)]
        subprocess.run(cmd, env=_env(threads), check=True, timeout=900)
        return json.loads(out.read_text())


# ----- dp: data-parallel steps -----
def dp_worker(net: str, out: str, rounds: int = 7) -> None:
    import numpy as np

    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.distributed import Comm, DataParallelStep, shard
    from chainrule.nn import functional as F
    from chainrule.train.step import TrainStep

    comm = Comm()
    cr.manual_seed(0)
    model = nn.MLP(*NETS[net])
    opt = optim.SGD(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, NETS[net][0])).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    lo, hi = shard(BATCH, comm.rank, comm.size)
    xs, ys = cr.from_numpy(x[lo:hi]), cr.from_numpy(y[lo:hi])
    step = DataParallelStep(TrainStep(model, opt, F.cross_entropy), comm)
    spent = [0.0]
    allreduce = comm.allreduce_

    def timed(buf, what):  # the time in the gradient allreduce, on this rank
        start = time.perf_counter()
        allreduce(buf, what)
        spent[0] += time.perf_counter() - start
        return buf

    comm.allreduce_ = timed
    for _ in range(3):
        step(xs, ys)
    # about half a second a round, the same count on every rank (rank 0's)
    per_round = np.array([max(3, int(0.5 / _time_one(step, xs, ys)))], np.int64)
    per_round = int(comm.bcast_(per_round, "the steps per round")[0])
    steps, reduce = [], []
    for _ in range(rounds):
        comm.comm.Barrier()
        spent[0] = 0.0
        start = time.perf_counter()
        for _ in range(per_round):
            step(xs, ys)
        steps.append((time.perf_counter() - start) / per_round)
        reduce.append(spent[0] / per_round)
    sent = sum(buf.nbytes for buf in step.buckets.buffers)
    if comm.rank == 0:
        result = {
            "ranks": comm.size,
            "step_s": float(np.median(steps)),
            "allreduce_s": float(np.median(reduce)),
            "bytes_per_step": sent,
            "buckets": len(step.buckets.buffers),
            "rounds": rounds,
            "steps_per_round": per_round,
        }
        Path(out).write_text(json.dumps(result))


def _time_one(step, xs, ys) -> float:
    start = time.perf_counter()
    step(xs, ys)
    return max(time.perf_counter() - start, 1e-4)


def part_dp() -> dict:
    rows = {}
    for net in NETS:
        rows[net] = {
            "1 rank x 1 thread": _mpirun(1, ["--dp-worker", net], threads=1),
            "1 rank x 2 threads": _mpirun(1, ["--dp-worker", net], threads=2),
            "2 ranks x 1 thread": _mpirun(2, ["--dp-worker", net], threads=1),
        }
        for name, r in rows[net].items():
            print(
                f"{net:>18}  {name:<19} step {r['step_s'] * 1e3:8.2f} ms  allreduce "
                f"{r['allreduce_s'] * 1e3:7.2f} ms  {r['bytes_per_step'] / 1e6:6.2f} MB/step",
                flush=True,
            )
    return rows


# ----- sweep: 1 against 2 workers -----
def part_sweep(executor: str | None) -> dict:
    from chainrule.train import TrainConfig
    from chainrule.train.sweep import run_sweep

    base = TrainConfig(dataset="digits", epochs=60)  # a run of a few seconds: more than a spawn
    values = {"hidden": [[50], [100]], "reg": [0.0, 0.001]}
    cases = [("local", 1), ("local", 2)] + ([(executor, 2)] if executor else [])
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (kind, workers) in enumerate(cases):
            start = time.perf_counter()
            run_sweep(base, values, Path(tmp) / str(i), workers=workers, executor=kind)
            seconds = time.perf_counter() - start
            rows[f"{kind}, {workers} worker{'s' * (workers > 1)}"] = seconds
            print(f"sweep of 4 runs  {kind:>5}, {workers} workers  {seconds:6.2f} s", flush=True)
    return rows


# ----- allreduce: this machine's alpha and beta -----
def allreduce_worker(out: str) -> None:
    import numpy as np

    from chainrule.distributed import Comm

    comm = Comm()
    sizes = [8 * 4**k for k in range(12)]  # 8 B .. 32 MiB
    times = {}
    for nbytes in sizes:
        buf = np.ones(nbytes // 4, np.float32)
        calls = max(5, min(2000, int(2e8 / max(nbytes, 1))))
        samples = []
        for _ in range(5):
            comm.comm.Barrier()
            start = time.perf_counter()
            for _ in range(calls):
                comm.comm.Allreduce(comm.MPI.IN_PLACE, buf)
            samples.append((time.perf_counter() - start) / calls)
        times[nbytes] = float(np.median(samples))
    if comm.rank == 0:
        n = np.array(sizes, float)
        t = np.array([times[s] for s in sizes])
        # least squares of t = alpha + n / beta, relative errors (the sizes span 7 decades)
        a = np.stack([1 / t, n / t], axis=1)
        alpha, inv_beta = np.linalg.lstsq(a, np.ones_like(t), rcond=None)[0]
        Path(out).write_text(
            json.dumps({"seconds": times, "alpha_s": alpha, "beta_bytes_per_s": 1 / inv_beta})
        )


def part_allreduce() -> dict:
    r = _mpirun(2, ["--allreduce-worker"], threads=1)
    for nbytes, s in r["seconds"].items():
        print(f"allreduce 2 ranks {int(nbytes):>10} B  {s * 1e6:10.1f} us", flush=True)
    print(f"fit: alpha {r['alpha_s'] * 1e6:.1f} us, beta {r['beta_bytes_per_s'] / 1e9:.2f} GB/s")
    return r


# ----- model: the cost model on paper, from the measured step times -----
#: (latency alpha in s, bandwidth beta in bytes/s) of the networks projected: assumptions, not
#: measurements (typical MPI figures for each)
NETWORKS = {"10 Gb Ethernet": (50e-6, 1.1e9), "100 Gb InfiniBand": (2e-6, 11e9)}
NODES = (8, 64)


def ring_allreduce_s(nbytes: float, p: int, alpha: float, beta: float) -> float:
    """A ring Allreduce of ``nbytes`` over ``p`` nodes: a reduce-scatter and an allgather, each
    ``p - 1`` steps of one latency and ``nbytes / p`` bytes."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta


def part_model(results: dict) -> dict:
    """Per node: the compute of a step measured here (1 rank, 1 thread, batch 256), the gradient
    Allreduce from the formula; no overlap of the two (chainrule sums after backward)."""
    rows = []
    for net, cases in results["dp"].items():
        compute = cases["1 rank x 1 thread"]["step_s"]
        nbytes = cases["1 rank x 1 thread"]["bytes_per_step"]
        for network, (alpha, beta) in NETWORKS.items():
            for p in NODES:
                comm = ring_allreduce_s(nbytes, p, alpha, beta)
                rows.append(
                    {
                        "net": net,
                        "network": network,
                        "nodes": p,
                        "bytes": nbytes,
                        "compute_ms": compute * 1e3,
                        "allreduce_ms": comm * 1e3,
                        # weak scaling: batch 256 per node, global batch 256 p
                        "weak_efficiency": compute / (compute + comm),
                        # strong scaling: global batch 256, 256 / p per node
                        "strong_speedup": compute / (compute / p + comm),
                    }
                )
    print("| network | nodes | net | MB per step | compute | Allreduce | weak eff. | strong |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['network']} | {r['nodes']} | {r['net']} | {r['bytes'] / 1e6:.2f} | "
            f"{r['compute_ms']:.1f} ms | {r['allreduce_ms']:.2f} ms | "
            f"{r['weak_efficiency']:.0%} | {r['strong_speedup']:.1f}x |"
        )
    return {"networks": NETWORKS, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python benchmarks/scaling.py", description=__doc__)
    ap.add_argument("--part", choices=("dp", "sweep", "allreduce", "model", "all"), default="all")
    ap.add_argument("--executor", choices=("ray", "dask"), help="also time the sweep on this")
    ap.add_argument("--json", default=str(HERE / "scaling.json"), help="where results go")
    ap.add_argument("--dp-worker", metavar="NET", help=argparse.SUPPRESS)
    ap.add_argument("--allreduce-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dp_worker:
        return dp_worker(args.dp_worker, args.out)
    if args.allreduce_worker:
        return allreduce_worker(args.out)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average_before": os.getloadavg()[0],
    }
    if args.part in ("dp", "all"):
        results["dp"] = part_dp()
    if args.part in ("sweep", "all"):
        results["sweep"] = part_sweep(args.executor)
    if args.part in ("allreduce", "all"):
        results["allreduce"] = part_allreduce()
    if args.part in ("model", "all"):
        if "dp" not in results:
            raise SystemExit("scaling.py: --part model needs the dp part's step times: run it")
        results["model"] = part_model(results)
    results["machine"]["load_average_after"] = os.getloadavg()[0]
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
