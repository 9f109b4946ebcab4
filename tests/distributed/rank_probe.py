"""``chainrule train`` as one MPI rank, telling the tests what they cannot see from outside.

Run as ``mpiexec -n N python rank_probe.py DIR train --distributed mpi ...``. Each rank writes,
atomically, to DIR:

- ``pid-K`` as it starts: its process id (the test that kills rank 1 reads it);
- ``rank-K.json`` after its first averaged gradient: the run's device, and the devices of its
  parameters and of their gradients (the test of one device per rank reads it).

Then it exits with ``chainrule``'s status.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mpi4py import MPI

from chainrule.cli import main
from chainrule.distributed import data_parallel

RANK = MPI.COMM_WORLD.Get_rank()


def write(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    os.replace(part, path)


def probe(out: Path) -> None:
    attach, allreduce = data_parallel.DataParallel.attach, data_parallel.DataParallelStep.allreduce
    seen: dict = {}

    def attach_and_record(self, t):  # noqa: ANN001, ANN202
        attach(self, t)
        seen["device"] = str(t.device)

    def allreduce_and_record(self, model):  # noqa: ANN001, ANN202
        allreduce(self, model)
        if "grads" not in seen:
            seen["params"] = sorted({str(p.device) for p in model.parameters()})
            seen["grads"] = sorted({str(p.grad.device) for p in model.parameters()})
            write(out / f"rank-{RANK}.json", json.dumps(seen))

    data_parallel.DataParallel.attach = attach_and_record
    data_parallel.DataParallelStep.allreduce = allreduce_and_record


if __name__ == "__main__":
    out = Path(sys.argv[1])
    write(out / f"pid-{RANK}", str(os.getpid()))
    probe(out)
    sys.exit(main(sys.argv[2:]))
