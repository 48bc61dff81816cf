"""The RTO/RPO trend of a plan's drills, as a PNG (matplotlib, no display needed).

EU GMP Annex 11 §7.2 asks that the ability to restore be *monitored*: one drill shows it
worked once, the trend shows whether it keeps working and whether recovery is getting
slower as the repository grows.
"""

from __future__ import annotations

import io
from typing import Any

from serialvault.timefmt import parse_timestamp

COLOURS = {"pass": "#0a6b0a", "fail": "#b00000", "inconclusive": "#9a6700"}


def trend_png(runs: list[dict[str, Any]], title: str) -> bytes:
    """RTO (seconds) and RPO (records) per drill over time; points coloured by verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    when = [parse_timestamp(str(r["finished_at"])) for r in runs]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    try:
        for ax, key, label in ((ax1, "rto_s", "RTO (s)"), (ax2, "rpo_records", "RPO (records)")):
            xs = [t for t, r in zip(when, runs, strict=True) if r.get(key) is not None]
            ys = [float(r[key]) for r in runs if r.get(key) is not None]
            cs = [COLOURS.get(str(r["verdict"]), "#444") for r in runs if r.get(key) is not None]
            ax.plot(xs, ys, color="#888", linewidth=1)
            ax.scatter(xs, ys, c=cs, zorder=3)
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
        ax1.set_title(title)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": "serialvault"})
        return buf.getvalue()
    finally:
        plt.close(fig)
