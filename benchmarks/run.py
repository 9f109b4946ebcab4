"""The benchmark suite's one entry point: ``python benchmarks/run.py`` (see README.md).

The parent process imports nothing heavy: it starts one worker process per workload (and per
BLAS setting), each with the thread counts fixed in its environment, collects their JSON, prints
the table, writes the results file and, with ``--write-docs``, docs/performance.md and its figure.

Workers: ``python benchmarks/run.py --worker KEY --worker-out FILE [--quick]`` (internal).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _harness as H  # noqa: E402

#: workload key -> the module that holds it and its competitors
WORKLOADS = {
    "a": "mlp_step",
    "b": "mlp_step",
    "c": "mlp_step",
    "d": "neuron",
    "e": "micrograd_demo",
    "f": "digits_fit",
    "g": "long_chain",
    "h": "peak_memory",
    "i": "convnet_step",
    "j": "convnet_step",
    "k": "busy",  # (a), (c) and 784-256-10 with one core kept busy, quiet against busy
}
#: the workloads whose time is BLAS time: measured under both OpenBLAS settings
BLAS_BOUND = ("a", "b", "f", "i", "j")
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: workloads whose competitors all run on one thread (0-d ops): a round counts as quiet while
#: other processes leave them a core (up to 0.75 cores busy); the others use both cores
#: (BLAS, or PyTorch's OpenMP pool even for small ops), so their rounds need <= 0.25 cores busy
ONE_THREAD = ("d", "g")
VARIANTS = {
    "auto": "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: OpenBLAS picks its kernel for this CPU",
    "as-set": "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as this machine's environment sets them",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="chainrule's benchmark suite: workloads (a)-(k) against hand-written NumPy, "
        "PyTorch, scikit-learn and micrograd, interleaved, with the issue's targets.",
    )
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, short samples")
    ap.add_argument(
        "--only", default=",".join(WORKLOADS), help="workloads to run, e.g. a,c,d (default: all)"
    )
    ap.add_argument(
        "--json",
        default=None,
        help="results file (default benchmarks/results.json, results-quick.json with --quick)",
    )
    ap.add_argument(
        "--write-docs",
        action="store_true",
        help="(re)generate docs/performance.md and docs/figures/performance-ratios.png",
    )
    ap.add_argument(
        "--blas-env",
        choices=("both", "auto", "as-set"),
        default=None,
        help="OpenBLAS setting(s) to measure under: 'auto' (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE "
        "unset, the headline), 'as-set' (this environment's), or 'both' (the default; 'auto' "
        "alone with --quick). 'as-set' reruns only the BLAS-bound workloads a, b, f.",
    )
    ap.add_argument("--from-json", default=None, help=argparse.SUPPRESS)  # rewrite docs only
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


# ----- inside a worker process -----
def worker(key: str, out: str, quick: bool) -> None:
    import importlib

    H.limit_threads()
    settings = H.Settings.make(quick)
    if key in ONE_THREAD:
        settings.noise_limit = 0.75
    module = importlib.import_module(WORKLOADS[key])
    t0 = time.perf_counter()
    result = module.run(key, settings, H.say)
    result["elapsed_s"] = time.perf_counter() - t0
    result["threadpools"] = H.threadpools()
    result["noise_limit_cores"] = settings.noise_limit
    Path(out).write_text(json.dumps(result, default=_jsonable))


def probe() -> None:
    """Print this environment's thread pools (numpy, and torch's when installed) as JSON."""
    import numpy  # noqa: F401

    H.limit_threads()
    try:
        import torch

        H.limit_torch_threads(torch)
    except ImportError:
        pass
    print(json.dumps(H.threadpools()))


def _jsonable(x: object) -> object:
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:
        pass
    if isinstance(x, tuple):
        return list(x)
    return str(x)


# ----- the parent -----
def variant_env(variant: str) -> dict[str, str]:
    env = dict(os.environ)
    n = str(H.THREADS)
    env.update(OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    if variant == "auto":
        for v in BLAS_VARS:
            env.pop(v, None)
    return env


def run_worker(key: str, variant: str, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / f"{key}.json"
        cmd = [sys.executable, str(HERE / "run.py"), "--worker", key, "--worker-out", str(out)]
        if quick:
            cmd.append("--quick")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                env=variant_env(variant),
                cwd=str(ROOT),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=(180 if quick else 420) * (2 if key == "k" else 1),  # (k): quiet, then busy
            )
            err_text, rc = proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            err_text, rc = (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else "", -9
            err_text += "\n(timed out)"
        for line in err_text.splitlines():
            if line.startswith("    "):
                H.say(line)
        if rc != 0 or not out.is_file():
            H.say(f"    FAILED (exit {rc}):\n" + err_text[-3000:])
            return {
                "key": key,
                "title": f"({key})",
                "error": f"worker exited with {rc}: {err_text[-3000:]}",
                "elapsed_s": time.perf_counter() - t0,
            }
        return json.loads(out.read_text())


def probe_pools(variant: str) -> list[dict]:
    try:
        out = subprocess.run(
            [sys.executable, str(HERE / "run.py"), "--probe"],
            env=variant_env(variant),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as e:  # noqa: BLE001  (a probe failure must not stop the suite)
        return [{"note": f"probe failed: {e}"}]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.worker, args.worker_out, args.quick)
        return 0
    if args.probe:
        probe()
        return 0
    import _docs
    import _report

    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        _docs.write_docs(results, ROOT)
        return 0
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in WORKLOADS]
    if unknown:
        sys.exit(f"--only: unknown workload(s) {unknown}; choose among {','.join(WORKLOADS)}")
    blas_env = args.blas_env or ("auto" if args.quick else "both")
    env_set = {v: os.environ[v] for v in BLAS_VARS if v in os.environ}
    variants = ["auto"] if blas_env in ("both", "auto") else []
    if blas_env in ("both", "as-set"):
        if env_set or blas_env == "as-set":
            variants.append("as-set")
    json_path = Path(args.json or HERE / ("results-quick.json" if args.quick else "results.json"))

    t_start = time.perf_counter()
    machine = H.machine()
    H.say(f"chainrule benchmark suite ({'quick' if args.quick else 'full'} run)")
    H.say(f"machine: {machine['cpu']} ({machine['cpu_id']}), {machine['cores']} cores, ")
    H.say(f"  {machine['memory_gib']} GiB, Python {machine['python']}")
    H.say(
        "  versions: "
        + ", ".join(f"{k} {v or 'not installed'}" for k, v in machine["versions"].items())
    )
    H.say(f"  environment: {env_set or 'no OPENBLAS_* kernel settings'}; threads {H.THREADS}")
    results: dict = {
        "suite": "chainrule benchmarks",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python benchmarks/run.py", *(argv or sys.argv[1:])]),
        "machine": machine,
        "threads": H.THREADS,
        "environment_blas_vars": env_set,
        "headline": "auto" if "auto" in variants else variants[0],
        "settings": vars(H.Settings.make(args.quick)),
        "variants": {},
    }
    failed = False
    for variant in variants:
        vkeys = keys if variant == results["headline"] else [k for k in keys if k in BLAS_BOUND]
        if not vkeys:
            continue
        pools = probe_pools(variant)
        H.say(f"\n== BLAS setting '{variant}': {VARIANTS[variant]}")
        H.say(f"   pools: {H.describe_pools(pools)}")
        load = H.machine_load()
        if load is not None:
            H.say(f"   other processes' load now: {load:.2f} cores")
        v = {
            "description": VARIANTS[variant],
            "unset": list(BLAS_VARS) if variant == "auto" else [],
            "threadpools": pools,
            "load_before_cores": load,
            "workloads": {},
        }
        results["variants"][variant] = v
        for key in vkeys:
            H.say(f"-- ({key}) [{variant}]")
            r = run_worker(key, variant, args.quick)
            failed |= "error" in r
            v["workloads"][key] = r
            H.say(_report.summary_lines(r))
    results["elapsed_s"] = time.perf_counter() - t_start
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=_jsonable))
    os.replace(tmp, json_path)
    print(_report.table_markdown(results, results["headline"]))
    print()
    print(_report.targets_markdown(results))
    H.say(f"\nresults: {json_path}; took {results['elapsed_s'] / 60:.1f} min")
    if args.write_docs:
        paths = _docs.write_docs(results, ROOT)
        H.say("wrote " + ", ".join(str(p) for p in paths))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
