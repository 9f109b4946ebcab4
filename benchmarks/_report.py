"""Tables and target verdicts from the suite's results (the terminal's and the docs')."""

from __future__ import annotations

import statistics
from typing import Any

from _harness import TARGETS, fmt_ratio, fmt_time

MIB = 2**20
ORDER = ("chainrule", "numpy", "torch", "sklearn", "micrograd", "ceiling")


# ----- values and verdicts -----
def _targets(w: dict) -> list[dict[str, Any]]:
    """The workload's targets, also for one that failed or was skipped."""
    return w.get("targets") or TARGETS.get(str(w.get("key")), [])


def _row_targets(w: dict) -> dict[str, dict[str, Any]]:
    """The targets shown on a competitor's row of the tables: those of chainrule's own step
    (a target ``by`` another chainrule variant, cr.compile, is in the targets table only)."""
    return {t["competitor"]: t for t in _targets(w) if "by" not in t}


def target_ratio(w: dict, t: dict) -> dict[str, float] | None:
    """The ratio a target is judged on: the competitor's time over chainrule's (median, min and
    max over the rounds); for a target ``by`` a variant, over that variant's, round by round."""
    ratios = w["measurements"][0].get("ratios", {})
    r = ratios.get(t["competitor"])
    if r is None or "by" not in t:
        return r
    b = ratios.get(t["by"])
    if b is None:
        return None
    per_round = [x / y for x, y in zip(r["per_round"], b["per_round"])]
    return {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}


def _is_memory(w: dict) -> bool:
    return w.get("quantity") == "memory"


def fmt_value(w: dict, seconds_or_bytes: float) -> str:
    if _is_memory(w):
        return f"{seconds_or_bytes / MIB:.1f} MiB"
    return fmt_time(seconds_or_bytes)


def _sorted(competitors: dict) -> list[tuple[str, dict]]:
    return sorted(competitors.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99)


def target_text(w: dict, t: dict) -> str:
    comp = t["competitor"]
    label = _label(w, comp)
    if comp == "ceiling":
        return f">= {t['at_least']:.0%} of the matmul ceiling"
    if "at_most" in t:
        return f"peak <= {t['at_most']:g}x {label}'s"
    by = f" ({_label(w, t['by'])})" if "by" in t else ""
    if t["at_least"] == 1.0:
        return f"faster than {label}{by}"
    return f">= {t['at_least']:g}x {label}'s speed{by}"


NAMES = {
    "numpy": "hand-written NumPy",
    "torch": "PyTorch",
    "sklearn": "scikit-learn MLPClassifier",
    "micrograd": "micrograd",
    "ceiling": "NumPy matmul ceiling",
}


def _label(w: dict, comp: str) -> str:
    for m in w.get("measurements", []):
        c = m.get("competitors", {}).get(comp)
        if c:
            return c["label"]
    return NAMES.get(comp, comp)


def _exact(v: float) -> str:
    """A ratio with enough digits to tell it from a nearby target (0.949x, not 0.95x)."""
    return f"{v:.3f}x" if v < 10 else fmt_ratio(v)


def judge(w: dict, t: dict) -> dict[str, Any]:
    """The verdict of target t on workload w: status met/missed/not measured and a text."""
    comp = t["competitor"]
    if "error" in w:
        return {"status": "error", "text": "the workload failed", "value": None}
    if "skipped" in w:
        return {"status": "not measured", "text": w["skipped"], "value": None}
    m = w["measurements"][0]
    r = target_ratio(w, t)
    if r is None:
        why = m.get("skipped", {}).get(comp, m.get("skipped", {}).get(t.get("by"), "not measured"))
        return {"status": "not measured", "text": why, "value": None}
    v = r["median"]
    verdict = _judge_value(comp, t, v)
    verdict["shown"] = f"{v:.0%}" if comp == "ceiling" else _exact(v)
    return verdict


def _judge_value(comp: str, t: dict, v: float) -> dict[str, Any]:
    if "at_most" in t:
        need = t["at_most"]
        if v <= need:
            return {"status": "met", "text": f"met: {_exact(v)} <= {need:g}x", "value": v}
        return {
            "status": "missed",
            "value": v,
            "text": f"missed: {_exact(v)} > {need:g}x; chainrule's peak must shrink by "
            f"{1 - need / v:.0%}",
        }
    need = t["at_least"]
    if comp == "ceiling":
        if v >= need:
            return {"status": "met", "text": f"met: {v:.0%} >= {need:.0%}", "value": v}
        return {
            "status": "missed",
            "value": v,
            "text": f"missed: {v:.0%} < {need:.0%}; chainrule's step must take "
            f"{1 - v / need:.0%} less time",
        }
    if v >= need:
        return {"status": "met", "text": f"met: {_exact(v)} >= {need:g}x", "value": v}
    return {
        "status": "missed",
        "value": v,
        "text": f"missed: {_exact(v)} < {need:g}x; chainrule must get {need / v:.2f}x "
        f"faster ({1 - v / need:.0%} less time)",
    }


# ----- terminal lines -----
def summary_lines(w: dict) -> str:
    if "error" in w:
        return f"   ERROR: {w['error'].strip().splitlines()[-1] if w['error'].strip() else ''}"
    if "skipped" in w:
        return f"   {w['skipped']}"
    lines = []
    for m in w["measurements"]:
        for k, c in _sorted(m["competitors"]):
            r = m["ratios"].get(k)
            ratio = f"  ratio {fmt_ratio(r['median'])}" if r else ""
            lines.append(
                f"   {m['label']:<20} {c['label']:<46} {fmt_value(w, c['median']):>10} "
                f"({fmt_value(w, c['min'])} - {fmt_value(w, c['max'])}){ratio}"
            )
        for k, note in m.get("skipped", {}).items():
            lines.append(f"   {m['label']:<20} {k:<46} {note}")
    for t in _targets(w):
        lines.append(f"   target {target_text(w, t)}: {judge(w, t)['text']}")
    return "\n".join(lines)


# ----- markdown -----
def _ratio_cell(w: dict, k: str, r: dict | None) -> str:
    if r is None:
        return ""
    if k == "ceiling":
        return f"{r['median']:.0%} of the ceiling ({r['min']:.0%} - {r['max']:.0%})"
    return f"{fmt_ratio(r['median'])} ({fmt_ratio(r['min'])} - {fmt_ratio(r['max'])})"


def table_markdown(results: dict, variant: str) -> str:
    v = results["variants"].get(variant)
    if not v:
        return ""
    head = (
        "| workload | competitor | median | min - max | ratio (median of rounds, min - max) "
        "| target | met? |\n|---|---|---|---|---|---|---|"
    )
    rows, notes = [head], []
    for key, w in v["workloads"].items():
        if "error" in w:
            rows.append(f"| ({key}) | | | | | | error: the workload failed (see results JSON) |")
            continue
        if "skipped" in w:
            rows.append(f"| {w['title']} | | | | | | not measured: {w['skipped']} |")
            continue
        targets = _row_targets(w)
        for i, m in enumerate(w["measurements"]):
            name = w["title"] if i == 0 else ""
            if len(w["measurements"]) > 1:
                name = (name + "<br>" if name else "") + f"*{m['label']}*"
            for k, c in _sorted(m["competitors"]):
                t = targets.get(k) if i == 0 else None
                verdict = judge(w, t) if t else None
                status = ""
                if verdict:
                    mark = {"met": "**met**", "missed": "**missed**"}.get(verdict["status"], "")
                    status = f"{mark} {verdict['text'].split(':', 1)[-1].strip()}".strip()
                rows.append(
                    f"| {name} | {c['label']} | {fmt_value(w, c['median'])} | "
                    f"{fmt_value(w, c['min'])} - {fmt_value(w, c['max'])} | "
                    f"{_ratio_cell(w, k, m['ratios'].get(k))} | "
                    f"{target_text(w, t) if t else ''} | {status} |"
                )
                name = ""
                if c.get("note"):
                    notes.append(f"({key}) {c['label']}: {c['note']}")
            if m.get("noisy_rounds_kept") or m.get("rounds_run", 0) > m.get("rounds", 0):
                notes.append(
                    f"({key}) {m['label']}: {m['rounds_run']} rounds run to keep {m['rounds']}, "
                    f"{m['noisy_rounds_kept']} of them noisy (other processes above the limit)"
                )
            for k, note in m.get("skipped", {}).items():
                t = targets.get(k) if i == 0 else None
                rows.append(
                    f"| {name} | {k} | | | | {target_text(w, t) if t else ''} | "
                    f"not measured: {note} |"
                )
                name = ""
    text = "\n".join(rows)
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes))
    return text


def targets_markdown(results: dict) -> str:
    v = results["variants"].get(results["headline"], {})
    rows = [
        "| workload | target | measured (min - max of rounds) | verdict | noisy rounds kept |",
        "|---|---|---|---|---|",
    ]
    for key, w in v.get("workloads", {}).items():
        for t in _targets(w):
            j = judge(w, t)
            val = j["value"]
            m = w["measurements"][0] if "measurements" in w else {}
            r = target_ratio(w, t) if m else None
            if val is None or r is None:
                shown = ""
            elif t["competitor"] == "ceiling":
                shown = f"{val:.0%} ({r['min']:.0%} - {r['max']:.0%})"
            else:
                shown = f"{fmt_ratio(val)} ({fmt_ratio(r['min'])} - {fmt_ratio(r['max'])})"
            verdict = j["text"] if j["status"] != "not measured" else f"not measured: {j['text']}"
            noisy = f"{m['noisy_rounds_kept']} of {m['rounds']}" if "rounds_run" in m else ""
            rows.append(f"| ({key}) | {target_text(w, t)} | {shown} | {verdict} | {noisy} |")
    return "\n".join(rows)


def all_verdicts(results: dict) -> list[tuple[str, dict, dict, dict]]:
    v = results["variants"].get(results["headline"], {})
    out = []
    for key, w in v.get("workloads", {}).items():
        for t in _targets(w):
            out.append((key, w, t, judge(w, t)))
    return out
