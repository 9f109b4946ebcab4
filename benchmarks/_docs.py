"""docs/performance.md and its bar chart, written from the suite's results (``--write-docs``)."""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from pathlib import Path

from _harness import describe_pools, fmt_ratio, fmt_time
from _report import (
    _is_memory,
    _label,
    _row_targets,
    _sorted,
    _targets,
    all_verdicts,
    judge,
    table_markdown,
    target_text,
    targets_markdown,
)

MIB = 2**20
DOC = Path("docs/performance.md")
FIGURE = Path("docs/figures/performance-ratios.png")


# ----- the figure -----
def figure(results: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    v = results["variants"].get(results["headline"], {})
    bars = []  # (label, median, lo, hi, target, status)
    for key, w in v.get("workloads", {}).items():
        if "measurements" not in w:
            continue
        targets = _row_targets(w)
        for i, m in enumerate(w["measurements"]):
            for k, r in m["ratios"].items():
                t = targets.get(k) if i == 0 else None
                label = f"({key}) vs {m['competitors'][k]['label']}"
                if len(w["measurements"]) > 1:
                    label += f" [{m['label']}]"
                med, lo, hi = r["median"], r["min"], r["max"]
                goal = None
                if _is_memory(w):  # plot theirs / chainrule's, so that > 1 is better here too
                    med, lo, hi = 1 / med, 1 / hi, 1 / lo
                    label = f"({key}) memory: {m['competitors'][k]['label']}'s peak / chainrule's"
                    goal = 1 / t["at_most"] if t else None
                elif t:
                    goal = t["at_least"]
                status = judge(w, t)["status"] if t else "info"
                if k == "ceiling":
                    label = f"({key}) fraction of the NumPy matmul ceiling"
                bars.append((label, med, lo, hi, goal, status))
    if not bars:
        return None
    colors = {"met": "#2e7d32", "missed": "#c62828", "info": "#9e9e9e"}
    fig, ax = plt.subplots(figsize=(10, 0.36 * len(bars) + 1.6))
    ys = list(range(len(bars)))[::-1]
    for y, (_, med, lo, hi, goal, status) in zip(ys, bars):
        ax.barh(y, med, color=colors.get(status, "#9e9e9e"), height=0.65)
        ax.plot([lo, hi], [y, y], color="black", linewidth=1)
        if goal:
            ax.plot([goal, goal], [y - 0.42, y + 0.42], color="black", linewidth=2.5)
        ax.text(max(hi, goal or 0) * 1.25, y, fmt_ratio(med), va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([b[0] for b in bars], fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1, color="grey", linewidth=0.8, linestyle="--")
    lo_all = min(b[2] for b in bars)
    hi_all = max(max(b[3] for b in bars), max((b[4] or 0) for b in bars))
    ax.set_xlim(min(0.05, lo_all / 2), hi_all * 4)
    ax.set_xlabel(
        "ratio, median of the rounds (their time / chainrule's; > 1: chainrule is faster or "
        "smaller)"
    )
    ax.set_title(
        "chainrule against each competitor: green met, red missed, grey no target;\n"
        "black tick = the target, thin line = min - max over the rounds",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from chainrule.viz.plots import save_figure

        save_figure(fig, path)
    except ImportError:
        fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
        os.close(fd)
        fig.savefig(tmp, dpi=150)
        os.replace(tmp, path)
    plt.close(fig)
    return path


# ----- why a target is missed: from the measurements themselves -----
def why(key: str, w: dict, t: dict, results: dict) -> str:
    m = w["measurements"][0]
    comps = m["competitors"]
    cr = comps.get("chainrule", {})
    comp = t["competitor"]
    if key in ("a", "b", "c"):
        bd = w.get("extra", {}).get("breakdown", {})
        parts = []
        crb, other = bd.get("chainrule", {}), bd.get(comp if comp != "ceiling" else "numpy", {})
        if crb:
            parts.append(
                "chainrule's step, phase by phase (median, measured after the rounds): "
                + ", ".join(f"{k} {fmt_time(s)}" for k, s in crb.items())
            )
        if other:
            who = "hand-written NumPy" if comp in ("numpy", "ceiling") else _label(w, comp)
            parts.append(f"{who}'s: " + ", ".join(f"{k} {fmt_time(s)}" for k, s in other.items()))
        if "ceiling" in comps and key != "c":
            ceil = comps["ceiling"]["median"]
            parts.append(
                f"the step's matrix products alone take {fmt_time(ceil)} "
                f"({comps['ceiling'].get('gflops', 0):.0f} GFLOP/s); chainrule's step "
                f"{fmt_time(cr.get('median', math.nan))}, hand-written NumPy's "
                f"{fmt_time(comps.get('numpy', {}).get('median', math.nan))}"
            )
        if key == "b":
            parts.append(
                "in the update, NumPy by hand scales its gradient buffer in place (dw *= lr; "
                "w -= dw), while chainrule leaves .grad as it is, as PyTorch does, and makes a "
                "temporary lr * g: one more pass over each weight matrix's memory"
            )
        if key == "c":
            parts.append(
                "at this size NumPy's arithmetic is a few microseconds: the rest is per-op Python "
                "overhead (each op's apply, the backward loop's bookkeeping, the optimizer's loop)"
            )
        return "; ".join(parts) + "."
    if key == "d":
        ops = w.get("extra", {}).get("ops_per_neuron", 8)
        per = ", ".join(f"{c['label']} {fmt_time(c['median'] / ops)}" for _, c in _sorted(comps))
        return (
            f"the neuron is {ops} ops, so this is the cost per op, forward and backward together: "
            f"{per}. Every chainrule op pays for argument unwrapping, the record-or-not decision, "
            f"a node and a Tensor; micrograd pays for one Python object and a closure."
        )
    if key == "e":
        mg = comps.get("micrograd", {}).get("median", math.nan)
        need = mg / t["at_least"]
        return (
            f"micrograd's step takes {fmt_time(mg)}, so {t['at_least']:,.0f}x asks for a step of "
            f"{fmt_time(need)}; chainrule's takes {fmt_time(cr.get('median', math.nan))} "
            f"(the same step by hand in NumPy: "
            f"{fmt_time(comps.get('numpy', {}).get('median', math.nan))}). The step is 12 ops on "
            "arrays of at most 100 x 16 (three linear layers and three ReLUs, the margin's "
            "multiply and subtract, the mean, the L2 term as one op over all six parameters, its "
            "scale and the sum): the difference to NumPy by hand is each op's node and Tensor "
            "forward and its gradient's delivery backward, per-op overhead again."
        )
    if key == "f":
        checks = w.get("checks", {})
        ep = [r["epochs"] for r in checks.get("sklearn_runs", [])]
        cr_epochs = (checks.get("chainrule_runs") or [{}])[0].get("epochs", "?")
        cr_t = cr.get("median", math.nan)
        sk_t = comps.get("sklearn", {}).get("median", math.nan)
        sk_ep = min(ep) if ep else math.nan
        per_cr = cr_t / cr_epochs if isinstance(cr_epochs, int) else math.nan
        return (
            f"chainrule's fit runs its configured {cr_epochs} epochs with a validation pass "
            f"and a checkpoint file per epoch, in {fmt_time(cr_t)} ({fmt_time(per_cr)} per "
            f"epoch); scikit-learn stops as soon as it reaches the same test accuracy, after "
            f"{sk_ep} epochs, in {fmt_time(sk_t)} ({fmt_time(sk_t / sk_ep)} per epoch, its test "
            f"evaluation included). Each chainrule epoch also writes three files atomically "
            "(the checkpoint, flushed to disk, the best model and metrics.csv), a fraction of a "
            "millisecond each, which scikit-learn does not; the rest is its steps at batch 32, "
            "where per-op overhead weighs, against scikit-learn's batch of 200."
        )
    if key in ("i", "j"):
        return (
            f"chainrule's step takes {fmt_time(cr.get('median', math.nan))} against PyTorch's "
            f"{fmt_time(comps.get('torch', {}).get('median', math.nan))}. chainrule's "
            "convolution is im2col (a copy of the strided window view, the batch innermost) "
            "and one matrix product per direction (the bias inside it, as a row of ones), its"
            " input gradient one product over the upstream's columns shifted by each kernel "
            "column and one contiguous add per kernel row, and the activations between "
            "convolutions stay batch-innermost in memory; PyTorch runs oneDNN's direct "
            "convolutions and pooling kernels, with no im2col copy, and spreads all of them "
            "over the threads, where chainrule's second thread helps only in the matrix "
            "products (its copies, pooling and elementwise passes run on one core: OpenBLAS's"
            " idle worker spins on the other; on one thread each, `benchmarks/interleaved.py "
            "--torch --only i,j` "
            "finds the two steps about even)"
        ) + "."
    if key == "h":
        npk = comps.get("numpy", {})
        return (
            f"after its imports alone chainrule's process holds "
            f"{cr.get('after_import_bytes', 0) / MIB:.1f} MiB against NumPy's "
            f"{npk.get('after_import_bytes', 0) / MIB:.1f} MiB; the training itself adds "
            f"{cr.get('training_bytes', 0) / MIB:.1f} MiB against "
            f"{npk.get('training_bytes', 0) / MIB:.1f} MiB."
        )
    return ""


# ----- docs/performance.md -----
def _noise(results: dict) -> tuple[float, int, int, int]:
    """Over every interleaved measurement: the largest other-process load in a kept sample, the
    noisy rounds kept, the rounds kept and the rounds run."""
    worst, noisy, kept, run = 0.0, 0, 0, 0
    for v in results["variants"].values():
        for w in v["workloads"].values():
            for m in w.get("measurements", []):
                if "rounds_run" not in m:
                    continue
                run += m["rounds_run"]
                kept += m["rounds"]
                noisy += m["noisy_rounds_kept"]
                for c in m.get("competitors", {}).values():
                    worst = max([worst, *c.get("noise_cores", [])])
    return worst, noisy, kept, run


def write_docs(results: dict, root: Path) -> list[Path]:
    doc, fig_path = root / DOC, root / FIGURE
    fig = figure(results, fig_path)
    mach = results["machine"]
    head = results["headline"]
    hv = results["variants"].get(head, {})
    lines = [
        "# Performance",
        "",
        "Generated by the benchmark suite, `python benchmarks/run.py --write-docs` "
        f"({results['mode']} run, {results['created']}, {results['elapsed_s'] / 60:.1f} min); "
        "do not edit by hand, rerun it. How the suite works and how to run it: "
        "`benchmarks/README.md` in the repository. The raw numbers, every sample included: "
        "`benchmarks/results.json`.",
        "",
        "Every ratio is *their time / chainrule's time* (for memory, chainrule's peak / theirs), "
        "computed pair by pair within each round and summarized by its median over the rounds: "
        "a speed ratio above 1 means chainrule is faster.",
        "",
        "## The targets",
        "",
        f"Medians of the ratios from this one run, float32, {results['threads']} threads, "
        f"BLAS setting '{head}' ({hv.get('description', '')}).",
        "",
        targets_markdown(results),
        "",
    ]
    verdicts = all_verdicts(results)
    met = sum(j["status"] == "met" for *_, j in verdicts)
    missed = [(k, w, t, j) for k, w, t, j in verdicts if j["status"] != "met"]
    lines.append(f"{met} of {len(verdicts)} targets met.")
    lines.append("")
    if missed:
        lines += ["### Why the missed targets are missed", ""]
        by_key: dict[str, list] = {}
        for k, w, t, j in missed:
            by_key.setdefault(k, []).append((w, t, j))
        for k, items in by_key.items():
            said = "; ".join(
                f"{target_text(w, t)}: {j['text'] if j['status'] == 'missed' else j['status']}"
                for w, t, j in items
            )
            w, t, j = next((x for x in items if x[2]["status"] == "missed"), items[0])
            reason = why(k, w, t, results) if j["status"] == "missed" else j["text"]
            lines.append(f"- ({k}) {said}. {reason}")
        lines.append("")
    if fig:
        lines += [
            "![chainrule's ratio to each competitor](figures/performance-ratios.png)",
            "",
        ]
    lines += ["## The machine", ""]
    vers = ", ".join(f"{k} {v or 'not installed'}" for k, v in mach["versions"].items())
    lines += [
        f"- CPU: {mach['cpu']} ({mach['cpu_id']}), {mach['cores']} cores, "
        f"{mach['memory_gib']} GiB; {mach['os']}; Python {mach['python']}",
        f"- versions: {vers}",
        f"- threads: {results['threads']} for every library (threadpoolctl's limits, "
        "OMP_NUM_THREADS/OPENBLAS_NUM_THREADS/MKL_NUM_THREADS, torch.set_num_threads)",
    ]
    for name, v in results["variants"].items():
        lines.append(
            f"- BLAS setting '{name}' ({v['description']}): {describe_pools(v['threadpools'])}"
        )
    env_set = results.get("environment_blas_vars") or {}
    if env_set:
        lines.append(
            "- this machine's environment sets "
            + ", ".join(f"{k}={v}" for k, v in env_set.items())
            + " (older OpenBLAS builds need them on this CPU); the headline numbers unset both "
            "for the benchmark's processes only, so that NumPy runs the kernel OpenBLAS picks "
            "for this CPU, as it would on a user's machine. The BLAS-bound workloads are "
            "measured with them as well, below."
        )
    worst, noisy, kept, run = _noise(results)
    lines.append(
        f"- other processes: the machine is shared. The CPU time other processes used during "
        f"each sample is read from /proc/stat, and a round during which it passed the limit "
        f"(0.25 cores; 0.75 for the one-thread workloads d and g) is run again (at most 30 s "
        f"per workload). This run: {run} rounds run to keep {kept}, of which {noisy} noisy "
        f"(the highest load in a kept sample: {worst:.2f} cores)."
    )
    lines += ["", f"## All results (BLAS setting '{head}')", "", table_markdown(results, head), ""]
    ceiling_rows = []
    for key in ("a", "b"):
        w = hv.get("workloads", {}).get(key)
        if not w or "measurements" not in w:
            continue
        m = w["measurements"][0]
        ceil = m["competitors"].get("ceiling")
        if not ceil:
            continue
        for _, c in _sorted(m["competitors"]):
            frac = ceil["median"] / c["median"]
            ceiling_rows.append(
                f"| ({key}) | {c['label']} | {c.get('gflops', 0):.1f} | {frac:.0%} |"
            )
    if ceiling_rows:
        lines += [
            "## The matmul ceiling",
            "",
            "The ceiling is NumPy running exactly the matrix products of one training step "
            "(forward, weight gradients and the hidden layers' input gradients) back to back into "
            "preallocated outputs, interleaved with the competitors in the same rounds. GFLOP/s "
            "counts those products' flops (2mnk each) over the median step time; the fraction is "
            "the ceiling's time over the step's time.",
            "",
            "| workload | competitor | GFLOP/s | fraction of the ceiling |",
            "|---|---|---|---|",
            *ceiling_rows,
            "",
        ]
    premise = []
    names = list(results["variants"])
    for key, said in (("a", "1.5"), ("b", "1.1"), ("c", "6")):
        cells = []
        for n in names:
            w = results["variants"][n]["workloads"].get(key)
            c = w["measurements"][0]["competitors"] if w and "measurements" in w else {}
            if "numpy" in c and "torch" in c:
                per = [t / x for t, x in zip(c["torch"]["samples"], c["numpy"]["samples"])]
                cells.append(f"{statistics.median(per):.2f}x ({min(per):.2f}x - {max(per):.2f}x)")
            else:
                cells.append("")
        if any(cells):
            premise.append(f"| ({key}) | " + " | ".join(cells) + f" | about {said}x |")
    if premise:
        lines += [
            "## The issue's premise: hand-written NumPy against PyTorch",
            "",
            "PyTorch's step time over hand-written NumPy's, round by round, in this run (how much "
            "faster the floor is than PyTorch), beside what the issue had measured on its 2-core "
            "machine.",
            "",
            "| workload | "
            + " | ".join(f"BLAS setting '{n}'" for n in names)
            + " | the issue said |",
            "|---|" + "---|" * len(names) + "---|",
            *premise,
            "",
        ]
    bd_lines = []
    for key in ("a", "b", "c"):
        w = hv.get("workloads", {}).get(key)
        if not w or "measurements" not in w:
            continue
        for comp, phases in w.get("extra", {}).get("breakdown", {}).items():
            cells = ", ".join(f"{k} {fmt_time(s)}" for k, s in phases.items())
            bd_lines.append(f"| ({key}) | {_label(w, comp)} | {cells} |")
    if bd_lines:
        lines += [
            "## Where the step time goes",
            "",
            "Each phase of a step timed on its own (median over about a second of steps, after "
            "the interleaved rounds; the phases' sum exceeds a step by the clock's overhead).",
            "",
            "| workload | competitor | phases |",
            "|---|---|---|",
            *bd_lines,
            "",
        ]
    others = [n for n in results["variants"] if n != head]
    if others:
        rows = []
        for key, w in hv.get("workloads", {}).items():
            if key not in {k for n in others for k in results["variants"][n]["workloads"]}:
                continue
            for t in _targets(w):
                cells = [judge(w, t)]
                for n in others:
                    ow = results["variants"][n]["workloads"].get(key)
                    cells.append(judge(ow, t) if ow else {"status": "not run", "text": ""})
                rows.append(
                    f"| ({key}) | {target_text(w, t)} | "
                    + " | ".join(_short(j) for j in cells)
                    + " |"
                )
        lines += [
            "## Does the BLAS setting matter?",
            "",
            "The BLAS-bound targets under each setting (each from its own interleaved rounds):",
            "",
            f"| workload | target | '{head}' (headline) | "
            + " | ".join(f"'{n}'" for n in others)
            + " |",
            "|---|---|---|" + "---|" * len(others),
            *rows,
            "",
        ]
    for name, v in results["variants"].items():
        if name == head:
            continue
        lines += [
            f"## With BLAS setting '{name}'",
            "",
            f"{v['description']}: {describe_pools(v['threadpools'])}. Only the BLAS-bound "
            "workloads are rerun.",
            "",
            table_markdown(results, name),
            "",
        ]
    import busy  # workload (k)'s section: slowdowns on a busy machine, not ratios

    lines += busy.docs_section(results)
    lines += ["## Checks", ""]
    for key, w in hv.get("workloads", {}).items():
        lines.append(f"- ({key}) {_checks_text(key, w)}")
    lines += [
        "",
        "## Method",
        "",
        "- One worker process per workload (and per BLAS setting), started by "
        "`benchmarks/run.py` with the thread counts in its environment; inside it the "
        "competitors are interleaved in that one process: a warm-up that also sizes each "
        f"sample to about {results['settings']['target_s']} s of iterations, then "
        f"{results['settings']['rounds']} rounds in alternating order (A B C, C B A, ...).",
        "- A sample is the time per iteration over its batch of iterations; `gc.collect()` runs "
        "before each sample, outside the clock, and the collector stays on while timing.",
        "- Before the warm-up, `gc.freeze()` moves every object that already exists (every "
        "library's imports, the models, the data) out of the collector's sight; it still collects "
        "everything created while timing. The competitors share a process, and without it each "
        "full collection also walks PyTorch's ~145,000 Python objects: that doubled chainrule's "
        "time in (g) and micrograd's in (e), a cost that a program importing only its own "
        "library does not pay.",
        "- Before each sample the worker waits until its own threads are idle: OpenBLAS's workers "
        "spin for about 0.1 s after each call, PyTorch's OpenMP workers for about 10 ms, and a "
        "competitor started at once would share the two cores with them (PyTorch's step of (a) "
        "measured 1.5x slower right after NumPy's for that alone).",
        "- Each competitor's median and min - max over the rounds; each ratio is taken within a "
        "round (its two samples were taken seconds apart) and summarized by its median and "
        "min - max.",
        "- (h) runs each competitor in a fresh process per round (5 rounds, interleaved) and "
        "reads the process's own peak resident memory (VmHWM; `ru_maxrss` would report at "
        "least its parent's size, since Linux keeps it across fork and exec).",
        "- Before timing, each workload checks that its competitors compute the same thing "
        "(see Checks).",
        "",
    ]
    doc.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".md", dir=doc.parent)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines))
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a docs page is for everyone to read
    os.replace(tmp, doc)
    return [doc] + ([fig] if fig else [])


def _short(j: dict) -> str:
    v = j.get("value")
    if v is None:
        return j["status"]
    return f"{j['status']} ({j['shown']})"


def _checks_text(key: str, w: dict) -> str:
    if "error" in w:
        return "the workload failed: " + (w["error"].strip().splitlines() or [""])[-1]
    if "skipped" in w:
        return "not measured: " + w["skipped"]
    c = w.get("checks", {})
    if key in ("a", "b", "c"):
        a = c.get("one_step_agreement", {})
        errs = ", ".join(
            f"{k} {v['update_rel_err']:.1e}" for k, v in a.items() if isinstance(v, dict)
        )
        return (
            f"one step from the same weights: same loss ({a.get('chainrule_loss', 0):.4f}) and "
            f"first-layer update (largest relative difference: {errs}): "
            f"{'ok' if a.get('ok') else 'MISMATCH'}; chainrule's loss after all the steps "
            f"{c.get('chainrule_loss_at_end', float('nan')):.4f}"
        )
    if key in ("i", "j"):
        a = c.get("one_step_agreement", {})
        t = a.get("torch", {})
        return (
            f"one step from the same weights: same loss ({a.get('chainrule_loss', 0):.4f}) and "
            f"first-layer update (largest relative difference to PyTorch: "
            f"{t.get('update_rel_err', float('nan')):.1e}): {'ok' if a.get('ok') else 'MISMATCH'}"
        )
    if key == "d":
        lv = c.get("lecture_values", {})
        return (
            "f = 0.73 and the lecture's five gradients, for every competitor: "
            f"{'ok' if lv.get('ok') else 'MISMATCH'}"
        )
    if key == "e":
        f = c.get("first_step_vs_micrograd", {})
        errs = ", ".join(
            f"{k} {v['grad_rel_err']:.1e}" for k, v in f.items() if isinstance(v, dict)
        )
        return (
            f"first step against micrograd's: loss {f.get('micrograd_loss', 0):.4f}, gradients' "
            f"largest relative difference {errs}: {'ok' if f.get('ok') else 'MISMATCH'}; "
            f"garbage collector on: {c.get('gc_enabled')}"
        )
    if key == "f":
        return (
            f"chainrule ({c.get('chainrule_config')}) reaches "
            f"{c.get('chainrule_test_accuracy', 0):.2%} test accuracy "
            f"({'>= 98%' if c.get('reaches_98') else 'BELOW 98%'}); scikit-learn reached it "
            f"every time: {c.get('sklearn_reached')}"
        )
    if key == "k":
        return "the steps are those of (a) and (c), checked there; none of its own"
    if key == "g":
        g = c.get("gradient", {})
        return (
            f"dy/dx = 1.0001^5000 = {g.get('expected', 0):.4f} for every competitor: "
            f"{'ok' if g.get('ok') else 'MISMATCH'}"
        )
    return "no check needed (it reads the process's own peak memory)"
