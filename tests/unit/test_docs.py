"""The documentation holds together: every relative link of README.md and docs/*.md reaches a file
of the repository, and every anchor a heading of its page (GitHub's slugs); the README stays short
and links every page; no page cites what a reader of the repository does not have. Text only: no
network, no warehouse."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 260
FORBIDDEN = ("shared/notes", "the issue")

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`+[^`]*`+")
# [text](target) or ![alt](target), with an optional "title"; the text may hold `code`.
LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# comment` in a shell block is not a heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (markdown marks and link targets gone), lowercased,
    every character but letters, digits, spaces, `-` and `_` dropped, spaces turned into `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = "".join(character for character in text if character.isalnum() or character in " -_")
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every anchor of a page; a repeated heading gets `-1`, `-2`... as on GitHub."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        if match := HEADING.match(line):
            base = slug(match.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return frozenset(found)


def relative_links(page: Path) -> list[str]:
    """The targets of the page's links that point into the repository (not to a URL)."""
    prose = INLINE_CODE.sub("", "\n".join(prose_lines(page.read_text(encoding="utf-8"))))
    # The whole text at once: a link's text may wrap onto the next line.
    targets = [match.group(2) for match in LINK.finditer(prose)]
    return [target for target in targets if not SCHEME.match(target)]


def broken(page: Path, target: str) -> str | None:
    """Why `target`, linked from `page`, does not resolve; None when it does."""
    path_part, _, anchor = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    if not destination.is_relative_to(REPO_ROOT):
        return f"{target}: outside the repository"
    if not destination.exists():
        return f"{target}: no such file"
    if anchor:
        if destination.suffix != ".md" or destination.is_dir():
            return f"{target}: an anchor into a file that is not a markdown page"
        if anchor not in anchors(destination):
            return f"{target}: no heading of {destination.relative_to(REPO_ROOT)} has the anchor #{anchor}"
    return None


def test_the_slugs_follow_githubs_rule() -> None:
    assert slug("Publishing: one rename") == "publishing-one-rename"
    assert slug("Concurrency: DuckDB's one-writer rule") == "concurrency-duckdbs-one-writer-rule"
    assert slug("data_quality_feedback: which defects cost accuracy") == (
        "data_quality_feedback-which-defects-cost-accuracy"
    )
    assert slug("The first `make run`") == "the-first-make-run"
    assert slug("Round 1 (2026-11-25): fixed parameters, 3 seeds") == (
        "round-1-2026-11-25-fixed-parameters-3-seeds"
    )


def test_the_parser_sees_links_and_headings_but_not_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\nSee [a](other.md#part), `[not](a-link.md)` and [a wrapped\nlink](third.md).\n\n"
        "```sh\n# not a heading\n[nor](this.md)\n```\n\n## Title\n",
        encoding="utf-8",
    )
    assert relative_links(page) == ["other.md#part", "third.md"]
    assert anchors(page) == {"title", "title-1"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [problem for target in relative_links(page) if (problem := broken(page, target))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_no_page_cites_what_a_reader_does_not_have(page: Path) -> None:
    text = page.read_text(encoding="utf-8").lower()
    assert not [phrase for phrase in FORBIDDEN if phrase in text]


@pytest.mark.parametrize("page", PAGES[1:], ids=lambda page: str(page.relative_to(REPO_ROOT)))
def test_every_page_has_a_title_and_is_linked_from_the_readme(page: Path) -> None:
    assert page.read_text(encoding="utf-8").startswith("# ")
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in relative_links(README)}
    assert page.resolve() in linked


def test_the_readme_stays_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_the_configuration_page_names_every_environment_variable_and_no_other() -> None:
    variable = re.compile(r"LAKEHOUSE_[A-Z_]*[A-Z]")
    sources = [
        *(REPO_ROOT / "ml").rglob("*.py"),
        *(REPO_ROOT / "dbt_project").glob("*.yml"),
        *(REPO_ROOT / "dbt_project" / "macros").rglob("*.sql"),
        *(REPO_ROOT / "dbt_project" / "models").rglob("*.yml"),
        REPO_ROOT / "Makefile",
    ]
    read = {name for path in sources for name in variable.findall(path.read_text(encoding="utf-8"))}
    documented = set(variable.findall((DOCS / "configuration.md").read_text(encoding="utf-8")))
    assert read - documented == set(), "read but not documented"
    assert documented - read == set(), "documented but read nowhere"
