"""The benchmarks' table: one Markdown row per measured case, as RESULTS.md shows it."""

from __future__ import annotations

from collections.abc import Sequence

from .cases import Row


def _fmt(value: float, unit: str) -> str:
    if unit in ("s", "s/future"):
        for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
            if value >= scale:
                return f"{value / scale:.3g} {suffix}{'/future' if unit == 's/future' else ''}"
        return f"{value * 1e9:.3g} ns"
    if unit == "B":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.1f} {unit}"


def _ratio(row: Row) -> str:
    return "n/a" if row.stdlib_value <= 0 else f"{row.ratio:.3f}"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| case | n | ours | time | baseline | time | ratio |",
        "|---|---:|---|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.case} | {r.n:,} | {r.ours} | {_fmt(r.ours_value, r.unit)} | {r.stdlib} "
            f"| {_fmt(r.stdlib_value, r.unit)} | {_ratio(r)} |"
        )
    return "\n".join(lines)
