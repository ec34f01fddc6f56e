"""The documentation holds together: every relative link in README.md and docs/ reaches a file
that exists and, with an `#anchor`, a heading of that file; every page is reachable from the
README's tour and from the docs index."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

_FENCE = re.compile(r"^(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1)[^\n]|\n(?!\n))+?\1")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = ("http://", "https://", "mailto:")


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]


def _links(text: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of each link outside code: fenced blocks and code spans, which
    may wrap over lines, are blanked first, keeping every position."""
    lines, fenced = text.splitlines(), False
    for number, line in enumerate(lines):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            lines[number] = ""
        elif fenced:
            lines[number] = ""
    prose = "\n".join(lines)
    prose = _CODE_SPAN.sub(lambda span: re.sub(r"[^\n]", " ", span.group()), prose)
    for link in _LINK.finditer(prose):
        yield prose.count("\n", 0, link.start()) + 1, link.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, punctuation (backticks included)
    dropped except '-' and '_', each space a '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def heading_anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated one gets -1, -2, … as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in page.read_text().splitlines():
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced and (heading := _HEADING.match(line)):
            base = slug(heading.group(2))  # code spans kept: the slug drops their backticks
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def _link_problem(page: Path, target: str) -> str | None:
    """Why the link `target` of `page` leads nowhere, or None when it reaches its place."""
    path_part, _, anchor = target.partition("#")
    if path_part.startswith("/"):
        return "write a relative link"
    linked = (page.parent / path_part).resolve() if path_part else page
    if not linked.exists():
        return "no such file"
    if anchor and (linked.is_dir() or linked.suffix != ".md"):
        return "an anchor in a file with no headings"
    if anchor and anchor not in heading_anchors(linked):
        return f"no heading #{anchor} in {linked.name}"
    return None


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    """What is wrong with each relative link of `page`, as `page:line: link: why`."""
    problems = []
    for number, target in _links(page.read_text()):
        if target.startswith(_EXTERNAL):
            continue
        problem = _link_problem(page, target)
        if problem is not None:
            problems.append(f"{page.relative_to(root)}:{number}: {target}: {problem}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_a_heading_that_exist(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_a_missing_heading_and_a_root_link(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.md").write_text("# Other\n\n## Tear down: `pulumi destroy`\n")
    page = docs / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#tear-down-pulumi-destroy), [here](#page), [out](https://example.com)\n"
        "[gone](missing.md) and [wrong](other.md#tear-down), [wrapped\nover lines](lost.md)\n"
        "`[in code](missing.md)`, `wrapped [in\ncode](missing.md)`\n"
        "```sh\n[in a block](missing.md)\n```\n"
        "[root](/docs/other.md)\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "docs/page.md:4: missing.md: no such file",
        "docs/page.md:4: other.md#tear-down: no heading #tear-down in other.md",
        "docs/page.md:4: lost.md: no such file",
        "docs/page.md:11: /docs/other.md: write a relative link",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("What `make test` does", "what-make-test-does"),
        ("Tear down: `pulumi destroy`", "tear-down-pulumi-destroy"),
        (
            "Rewinding a group (re-delivering from a point in time)",
            "rewinding-a-group-re-delivering-from-a-point-in-time",
        ),
        ("Start here (Python ≥ 3.11)", "start-here-python--311"),
        ("KAFKA_PROPERTIES and S3", "kafka_properties-and-s3"),
    ],
)
def test_anchors_follow_github_s_slugs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_every_docs_page_is_linked_from_the_readme_tour_and_the_docs_index() -> None:
    readme = (REPO / "README.md").read_text()
    index = (DOCS / "README.md").read_text()
    for page in sorted(DOCS.glob("*.md")):
        if page.name == "README.md":
            continue
        assert f"](docs/{page.name})" in readme, f"README.md's tour does not link {page.name}"
        assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
