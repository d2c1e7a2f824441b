"""The benchmark suite runs end to end on small n; its figures are not asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="matplotlib comes with the test extra")

from benchmarks.__main__ import main


@pytest.mark.timeout(120)
def test_quick_run_writes_table_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| collect | 1,000 | wait_all |" in out
    results = (tmp_path / "RESULTS.md").read_text()
    assert "fail-fast latency" in results
    assert "end to end: threads" in results
    assert "dask collect" in results
    assert "| peers, tiny: processes | 2,000 | map_settled(chunksize=256) |" in results
    assert "| Pool.imap(chunksize=256) |" in results
    assert "| peers, medium: threads | 20 | map_settled() |" in results
    assert "| pool: submit+wait_all | 500 | SupervisedPool |" in results
    assert "| pool: faulty batch | 200 | SupervisedPool+map_settled |" in results
    assert "| pool: replacement (spawn) | 2 | median |" in results
    assert (tmp_path / "results.png").stat().st_size > 10_000


def test_rewrite_keeps_hand_written_notes(tmp_path: Path) -> None:
    from benchmarks.__main__ import END, START, write_results
    from benchmarks.cases import Row

    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Results\n\nintro\n\n{START}\nold\n{END}\n\n## Notes\nkept\n")
    write_results([Row("collect", 10, "a", 1.0, "b", 2.0, "s")], path)
    text = path.read_text()
    assert "intro" in text
    assert "## Notes\nkept" in text
    assert "old" not in text
    assert "| collect | 10 | a |" in text
