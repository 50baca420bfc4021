"""The README's report reference is what `uniware-pipeline exports --markdown` generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from uniware_source.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- report-reference:start -->\n", "<!-- report-reference:end -->"


def test_readme_reference_matches_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exports", "--markdown"]) == 0
    generated = capsys.readouterr().out
    text = README.read_text()
    section = text[text.index(START) + len(START):text.index(END)]
    assert section == generated, "README out of date: paste `uniware-pipeline exports --markdown` between the markers"


def test_readme_names_the_ids_whose_label_is_unseen() -> None:
    """The reference says which ids have no known label (uniware-reports.md's "—") and which are guesses."""
    from uniware_source.vocabulary import GUESSED, LABELS, UNSEEN

    text = README.read_text()
    section = " ".join(text[text.index("### Report reference"):text.index("## Tables")].split())
    for ids in UNSEEN.values():
        for column in ids:
            assert f"`{column}`" in section, column
    for report, ids in GUESSED.items():
        if report != "Courier Returns":  # all of its labels, said as such
            for column in ids:
                assert f"`{LABELS[report][column]}`" in section, column
