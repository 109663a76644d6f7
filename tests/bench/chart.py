#!/usr/bin/env python3
"""Draws bench.json as one PNG: chart.py BENCH_JSON OUT_PNG (also called by bench.py --chart).

Left: many targets (targets_bench.py), cycle time against the number of targets,
sequential beside concurrent, with issue 14's goals at 1,000 targets. Right, when
bench.json holds the rotation data (bench.py --only rotation): the median and p99 of
each step of one rotation. Needs matplotlib (tests/bench/requirements.txt).
"""
import json, math, sys

import matplotlib

matplotlib.use("Agg")  # no display: a file only
import matplotlib.pyplot as plt  # noqa: E402

CYCLES = [("install", "install all", "o"), ("renewals", "cycle with 10% renewals", "s"),
          ("routine", "routine cycle", "^")]
GOAL_KEYS = dict(install="install_s", renewals="renewals_s", routine="routine_s")
COLOURS = dict(sequential="tab:red", concurrent="tab:blue")
STEPS = ["open", "fetch", "compare", "stage", "validate-offline", "validate-live", "swap",
         "notify", "acknowledge", "prune"]


def nearest_rank(values, q):
    v = sorted(values)
    return v[max(0, math.ceil(q / 100 * len(v)) - 1)]


def draw_targets(ax, t):
    sizes = sorted(t["sizes"].values(), key=lambda s: s["n"])
    ns = [s["n"] for s in sizes]
    for mode, colour in COLOURS.items():
        for key, label, marker in CYCLES:
            ys = [s["modes"][mode][key]["ms"] / 1000 for s in sizes if mode in s["modes"]]
            if ys:
                ax.plot(ns[:len(ys)], ys, marker=marker, color=colour,
                        linestyle="-" if mode == "concurrent" else "--", label=f"{mode}: {label}")
    goals = t.get("goals", {})
    for key, label, marker in CYCLES:
        if GOAL_KEYS[key] in goals:
            ax.plot([1000], [goals[GOAL_KEYS[key]]], marker=marker, color="black", fillstyle="none",
                    markersize=11, linestyle="none", label=f"goal at 1,000: {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.set_xlabel("targets (service users in one project)")
    ax.set_ylabel("seconds")
    ax.set_title(f"Many targets, every API call {t.get('delay_ms', '?')} ms late")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, loc="upper left")


def draw_rotation(ax, rot):
    runs = rot["runs"]
    steps = [s for s in STEPS if any(s in r["steps"] for r in runs)]
    med = [nearest_rank([r["steps"][s] for r in runs if s in r["steps"]], 50) for s in steps]
    p99 = [nearest_rank([r["steps"][s] for r in runs if s in r["steps"]], 99) for s in steps]
    y = range(len(steps))
    ax.barh([i + 0.2 for i in y], p99, height=0.4, color="tab:orange", label="p99")
    ax.barh([i - 0.2 for i in y], med, height=0.4, color="tab:green", label="median")
    ax.set_yticks(list(y))
    ax.set_yticklabels(steps)
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    ax.set_title(f"One rotation, per step ({rot['rotations']} rotations)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7)


def draw(res, out):
    panels = [k for k in ("targets", "rotation") if k in res]
    if not panels:
        raise SystemExit("chart: no targets or rotation data in the results")
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        (draw_targets if key == "targets" else draw_rotation)(ax, res[key])
    load = res.get("machine", {})
    fig.suptitle(f"certswap benchmarks, {load.get('cpus', '?')} CPUs, load average before "
                 f"{' '.join(f'{x:.1f}' for x in load.get('load_before', []))}", fontsize=9)
    fig.tight_layout()
    # A small file to commit: no more pixels than a README needs.
    fig.savefig(out, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: chart.py BENCH_JSON OUT_PNG")
    draw(json.load(open(sys.argv[1])), sys.argv[2])
