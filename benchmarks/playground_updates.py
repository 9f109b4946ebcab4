"""How many updates a second the playground's page gets, and how many training steps each carries.

Starts ``chainrule playground`` in its own process (as a person would), connects to it over its
WebSocket like the page does (parse each frame's JSON, decode its grid, acknowledge it), sets the
network, starts training and counts frames for a while. The issue's target: a 2-16-16-k network
with a 100 x 100 boundary grid gets at least 20 updates a second on a 2-core machine, with many
training steps between updates.

It also times, in this process, the two halves of an update: one training step and one frame
(the grid, the units' images, the full-batch gradients, the metrics).

    python benchmarks/playground_updates.py                  # 2-16-16-3 on the spiral, 10 s
    python benchmarks/playground_updates.py --classes 5 --seconds 20 --json out.json

Needs the playground extra (``pip install -e ".[playground]"``), which brings websockets.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "playground"))  # the helper that starts the command


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (float(fields[11]) + float(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def measure_server(seconds: float, warmup: float, changes: dict) -> dict:
    from _playground_server import Playground
    from websockets.sync.client import connect

    with Playground() as p:
        if p.url is None:
            raise SystemExit(f"the playground did not start: {p.stop()}")
        url = p.url.replace("http://", "ws://") + "ws"
        frames, steps, sizes, times = [], [], [], []
        with connect(url, max_size=None) as ws:

            def receive(kind: str) -> dict:
                while True:
                    raw = ws.recv()
                    msg = json.loads(raw)
                    if msg["type"] == "frame":
                        ws.send(json.dumps({"type": "ack", "n": 1}))
                    if msg["type"] == "error":
                        raise SystemExit(f"the server refused: {msg['message']}")
                    if msg["type"] == kind:
                        return msg

            receive("state")
            ws.send(json.dumps({"type": "config", "config": changes}))
            first = receive("frame")
            hidden = [len(layer["w"]) for layer in first["layers"]]
            ws.send(json.dumps({"type": "start"}))
            start = time.perf_counter()
            busy0 = None
            while True:
                raw = ws.recv()
                now = time.perf_counter()
                msg = json.loads(raw)
                if msg["type"] != "frame":
                    continue
                base64.b64decode(msg["grid"]["cls"])  # what the page does with each frame
                base64.b64decode(msg["grid"]["conf"])
                ws.send(json.dumps({"type": "ack", "n": 1}))
                if now - start < warmup:
                    continue
                if busy0 is None:
                    busy0, t0, step0 = _cpu_busy(), now, msg["step"]
                    server0, client0 = _cpu_of(p.proc.pid), _own_cpu()
                    continue
                frames.append(msg["step"])
                times.append(now)
                sizes.append(len(raw))
                if now - t0 >= seconds:
                    break
            busy1 = _cpu_busy()
            server_cpu, client_cpu = _cpu_of(p.proc.pid) - server0, _own_cpu() - client0
            ws.send(json.dumps({"type": "pause"}))
        status, _, err = p.stop()
        if status != 0:
            raise SystemExit(f"the playground exited with {status}: {err}")
    elapsed = times[-1] - t0
    steps = [b - a for a, b in zip([step0, *frames[:-1]], frames)]
    gaps = [b - a for a, b in zip([t0, *times[:-1]], times)]
    cores = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1)
    return {
        "network": "-".join(str(n) for n in [2, *hidden]),
        "grid": f"{first['grid']['size']} x {first['grid']['size']}",
        "updates_per_second": len(frames) / elapsed,
        "steps_per_second": (frames[-1] - step0) / elapsed,
        "steps_per_update_median": statistics.median(steps),
        "steps_per_update_min": min(steps),
        "gap_ms_median": 1000 * statistics.median(gaps),
        "gap_ms_max": 1000 * max(gaps),
        "bytes_per_update": statistics.median(sizes),
        "seconds": elapsed,
        "cores_busy": cores,
        "server_cores": server_cpu / elapsed,
        "client_cores": client_cpu / elapsed,
    }


def measure_parts(changes: dict, repeats: int = 200) -> dict:
    """In process: the time of one training step and of one frame, medians of ``repeats``."""
    from threadpoolctl import threadpool_limits

    from chainrule.playground import Session

    threadpool_limits(limits=1, user_api="blas")  # as the server's process runs
    s = Session()
    s.update(changes)
    s.train(50)
    step_t, frame_t = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        s.train(10)
        step_t.append((time.perf_counter() - t) / 10)
    for _ in range(max(20, repeats // 5)):
        t = time.perf_counter()
        s.frame()
        frame_t.append(time.perf_counter() - t)
    return {
        "step_ms": 1000 * statistics.median(step_t),
        "frame_ms": 1000 * statistics.median(frame_t),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=3, help="spiral arms (default 3)")
    ap.add_argument("--hidden", default="16,16", help="hidden widths (default 16,16)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring time (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="training before measuring")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    changes = {
        "dataset": "spiral",
        "classes": args.classes,
        "hidden": [int(w) for w in args.hidden.split(",") if w],
        "batch_size": 10,
    }
    server = measure_server(args.seconds, args.warmup, changes)
    parts = measure_parts(changes)
    load = os.getloadavg()[0]
    print(f"playground: network {server['network']}, grid {server['grid']}, batch 10, spiral")
    print(f"  updates per second     {server['updates_per_second']:8.1f}   (target >= 20)")
    print(
        f"  steps per update       {server['steps_per_update_median']:8.0f}   median "
        f"(min {server['steps_per_update_min']})"
    )
    print(f"  steps per second       {server['steps_per_second']:8.0f}")
    print(
        f"  time between updates   {server['gap_ms_median']:8.1f} ms median "
        f"(max {server['gap_ms_max']:.1f} ms)"
    )
    print(f"  bytes per update       {server['bytes_per_update']:8.0f}")
    print(f"  one training step      {parts['step_ms']:8.3f} ms (in process)")
    print(f"  one frame              {parts['frame_ms']:8.3f} ms (in process)")
    print(
        f"  machine: {os.cpu_count()} cores, {server['cores_busy']:.2f} busy while measuring: "
        f"the server {server['server_cores']:.2f}, this client {server['client_cores']:.2f}, "
        f"other processes the rest; load average {load:.2f}"
    )
    verdict = "met" if server["updates_per_second"] >= 20 else "NOT met"
    print(f"  target of 20 updates a second: {verdict}")
    if args.json:
        args.json.write_text(json.dumps({**server, **parts, "load_average": load}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
