"""The PNG figures of docs/models.md (``docs/figures/models_*.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.report_inputs import SCSN_MC, SCSN_START
from export.train import SPEC, TD_FRACTIONS

_BASE_LABEL = {
    "reference": "reference-style forest (aden2021 features, 100 unbounded trees)",
    "nnd": "NND threshold (per catalog)",
}


def figures(
    ev: dict, forests: dict, ref: dict, manifest: dict, scsn: dict, grid: dict, fig_dir: Path
) -> list[str]:
    """Write the PNG figures; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    s = ev["summary"]
    fr = np.array(TD_FRACTIONS)
    names = [f"rf_td{f:03d}" for f in TD_FRACTIONS]
    files = []

    def band(ax, key, label, color):
        med = [s[n][key]["median"] for n in names]
        lo = [s[n][key]["p32"] for n in names]
        hi = [s[n][key]["p68"] for n in names]
        ax.plot(fr, med, "o-", color=color, label=f"{label} (median)")
        ax.fill_between(fr, lo, hi, color=color, alpha=0.2, label=f"{label} 32-68 %")
        for base, col, ls in (("reference", "C3", "--"), ("nnd", "C2", ":")):
            b = s[base][key]
            ax.axhline(b["median"], color=col, ls=ls, label=_BASE_LABEL[base])
            ax.axhspan(b["p32"], b["p68"], color=col, alpha=0.08)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    band(ax, "accuracy", f"RF ({SPEC})", "C0")
    ax.set_xlabel("training data (TD fraction, % of 100 catalogs)")
    ax.set_ylabel("accuracy per test catalog")
    ax.set_title("Test accuracy over 100 synthetic catalogs")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(fig_dir / "models_accuracy.png", dpi=120)
    plt.close(fig)
    files.append("models_accuracy.png")

    fig, ax1 = plt.subplots(figsize=(6.4, 4.2))
    entries = {e["name"]: e for e in manifest["models"]}
    nodes = [entries[n]["n_nodes"] for n in names]
    mb = [entries[n]["bytes"] / 1e6 for n in names]
    ax1.semilogy(fr, nodes, "o-", color="C0", label=f"RF ({SPEC}): nodes")
    ax1.axhline(ref["n_nodes"], color="C3", ls="--", label="reference forest: nodes")
    ax1.set_xlabel("training data (TD fraction, %)")
    ax1.set_ylabel("nodes")
    ax2 = ax1.twinx()
    ax2.semilogy(fr, mb, "s:", color="C1", label=f"RF ({SPEC}): ONNX MB")
    ax2.axhline(ref["pickle_bytes"] / 1e6, color="C3", ls=":", label="reference: pickle MB")
    ax2.set_ylabel("MB")
    lo = min(min(nodes), min(mb)) / 3
    hi = max(ref["n_nodes"], ref["pickle_bytes"] / 1e6) * 3
    ax1.set_ylim(lo, hi)
    ax2.set_ylim(lo, hi)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    ax1.set_title("Model size")
    fig.tight_layout()
    fig.savefig(fig_dir / "models_size.png", dpi=120)
    plt.close(fig)
    files.append("models_size.png")

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    for ax, key, title in zip(
        axes,
        ("bg_precision", "bg_recall", "bg_fraction_error"),
        ("background precision", "background recall", "background fraction: predicted - true"),
        strict=True,
    ):
        band(ax, key, f"RF ({SPEC})", "C0")
        ax.set_title(title)
        ax.set_xlabel("TD fraction (%)")
        ax.grid(alpha=0.3)
    axes[2].axhline(0.0, color="k", lw=0.8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=4)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(fig_dir / "models_background.png", dpi=120)
    plt.close(fig)
    files.append("models_background.png")

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.0))
    agree = [100 * scsn["models"][n]["agreement_with_rf_td100"] for n in names]
    bgf = [100 * scsn["models"][n]["background_fraction"] for n in names]
    ax.plot(fr, agree, "o-", color="C0", label=f"RF ({SPEC}) vs rf_td100")
    ax.axhline(97, color="0.5", lw=0.8, ls="--", label="97 %")
    ax.set_ylim(min(95.0, min(agree) - 0.5), 100.3)
    ax.set_ylabel("events with the same label (%)")
    ax.set_title("agreement with the 100 % model")
    bx.plot(fr, bgf, "s-", color="C1", label=f"RF ({SPEC})")
    bx.axhline(100 * scsn["nnd"]["background_fraction"], color="C2", ls=":", label="NND threshold")
    bx.set_ylim(0, max(max(bgf), 100 * scsn["nnd"]["background_fraction"]) * 1.2)
    bx.set_ylabel("background fraction (%)")
    bx.set_title("background fraction")
    for a in (ax, bx):
        a.set_xlabel("TD fraction (%)")
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.suptitle(f"SCSN, M >= {SCSN_MC} since {SCSN_START} ({scsn['events']:,} events)")
    fig.tight_layout()
    fig.savefig(fig_dir / "models_scsn.png", dpi=120)
    plt.close(fig)
    files.append("models_scsn.png")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for mwf, marker in zip(
        sorted({p["min_weight_fraction_leaf"] for p in grid["points"]}), "osd^v", strict=False
    ):
        pts = [p for p in grid["points"] if p["min_weight_fraction_leaf"] == mwf]
        ax.scatter(
            [p["onnx_bytes"] / 1e6 for p in pts],
            [p["val_accuracy"]["median"] for p in pts],
            marker=marker,
            label=f"min_weight_fraction_leaf {mwf:g}",
        )
    ch = grid["chosen"]
    cp = next(p for p in grid["points"] if all(p[k] == v for k, v in ch.items()))
    ax.scatter(
        [cp["onnx_bytes"] / 1e6],
        [cp["val_accuracy"]["median"]],
        s=160,
        facecolors="none",
        edgecolors="k",
        label="chosen",
    )
    ax.set_xscale("log")
    ax.set_xlabel("ONNX file (MB)")
    ax.set_ylabel("median accuracy, held-out training catalogs")
    ax.set_title("Hyperparameter grid")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(fig_dir / "models_grid.png", dpi=120)
    plt.close(fig)
    files.append("models_grid.png")
    return files
