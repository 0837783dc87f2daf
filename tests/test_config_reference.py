"""docs/CONFIG.md is the generated reference of every recipe key, and it is current (regenerate: `make docs`);
BENCHMARKS.md stays one page for users (history: docs/lab-notes.md)."""

from pathlib import Path

from aum.train.config_reference import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"


def test_config_reference_is_current():
    assert DOC.read_text() == render(), "docs/CONFIG.md is out of date: run `make docs`"


def test_every_key_has_a_meaning():
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows and all(not line.rstrip().endswith("|  |") for line in rows), "a key without documentation"
    for key in ("`optim`", "`lr`", "`format: speechcommands`", "`name: pretrain`", "`aum_type`", "`max_bad_fraction`"):
        assert key in text


def test_benchmarks_is_one_page_with_the_summary_first():
    text = (DOC.parents[1] / "BENCHMARKS.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(text.splitlines()) <= 250 and headings[0].startswith("## Summary")
