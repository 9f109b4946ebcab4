"""`chainrule train ARGS` in this process, made to wait or to die at one exact, named point.

The reliability tests run it as a real process and act on it from outside (a signal, a second
run) once it shows that it reached the point: synchronized by what it did, never by time.

    python tests/reliability/_train_at.py [POINT...] -- train --epochs 3 --out runs/x

Points (any number):
    --wait WHERE --marker FILE  at WHERE, create FILE, then wait for a line on stdin (a signal
                                ends the wait the way it would end training there). WHERE is
                                load_data (before the run folder is touched), epoch:N (at the
                                start of epoch N, after N-1 checkpoints) or figures.
    --sigint-in-metrics N       send this process a real SIGINT while metrics.csv of epoch N is
                                being written (the checkpoint of epoch N is already saved).
    --kill-step K               SIGKILL this process before its K-th optimizer step.
    --kill-write N:before|after SIGKILL this process just before or just after its N-th file
                                rename (each file of a run is written to a temporary file, then
                                renamed into place).
    --stamp STAMP               the time stamp of default folder names (two processes started
                                "in the same second").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def _wait(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    sys.stdin.readline()  # a signal raises here, as it would at this point of training


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--wait")
    p.add_argument("--marker")
    p.add_argument("--sigint-in-metrics", type=int)
    p.add_argument("--kill-step", type=int)
    p.add_argument("--kill-write")
    p.add_argument("--stamp")
    opts = p.parse_args(argv[:split])

    from chainrule import cli
    from chainrule.train import evaluation, loop, trainer, training
    from chainrule.train import run as run_module

    if opts.wait == "load_data":
        original_load = trainer.load_data

        def load_data(config):
            _wait(opts.marker)
            return original_load(config)

        trainer.load_data = load_data
    elif opts.wait and opts.wait.startswith("epoch:"):
        at = int(opts.wait.split(":")[1])
        original_epoch = loop.train_epoch

        def train_epoch(t, epoch, *rest):
            if epoch == at:
                _wait(opts.marker)
            return original_epoch(t, epoch, *rest)

        loop.train_epoch = train_epoch
    elif opts.wait == "figures":
        original_draw = evaluation.draw_figures

        def draw_figures(*args):
            _wait(opts.marker)
            return original_draw(*args)

        evaluation.draw_figures = draw_figures

    if opts.sigint_in_metrics:
        original_metrics = run_module.RunFolder.write_metrics

        def write_metrics(self, history):
            if len(history) == opts.sigint_in_metrics:
                os.kill(os.getpid(), signal.SIGINT)
            return original_metrics(self, history)

        run_module.RunFolder.write_metrics = write_metrics

    if opts.kill_step:
        original_make = training.make_optimizer
        steps = 0

        def make_optimizer(config, model):
            opt = original_make(config, model)
            real_step = opt.step

            def step(*args, **kwargs):
                nonlocal steps
                steps += 1
                if steps == opts.kill_step:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real_step(*args, **kwargs)

            opt.step = step
            return opt

        training.make_optimizer = make_optimizer

    if opts.kill_write:
        n, when = opts.kill_write.split(":")
        real_replace = os.replace
        renames = 0

        def replace(src, dst, **kwargs):
            nonlocal renames
            renames += 1
            if renames == int(n) and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst, **kwargs)
            if renames == int(n):
                os.kill(os.getpid(), signal.SIGKILL)

        os.replace = replace

    if opts.stamp:
        import time

        time.strftime = lambda *args: opts.stamp

    return cli.main(argv[split + 1 :])


if __name__ == "__main__":
    sys.exit(main())
