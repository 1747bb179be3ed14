"""Every relative link in README.md and docs/*.md leads to a file or folder inside the repository."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target "title") (images too) and reference definitions `[label]: target`
_INLINE = re.compile(r"\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)\s*$", re.M)
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def relative_links(markdown: str) -> list[str]:
    text = _CODE.sub("", markdown)  # `[x](y)` inside code is an example, not a link
    targets = _INLINE.findall(text) + _REFERENCE.findall(text)
    return [t for t in targets if not urlsplit(t).scheme and not t.startswith(("#", "//"))]


def test_the_link_finder_sees_inline_and_reference_links_but_not_code():
    text = "[a](docs/x.md) ![b](y.png \"title\") [c](https://e.com) [d](#top)\n`[e](f.md)`\n[g]: ../g.md\n"
    assert relative_links(text) == ["docs/x.md", "y.png", "../g.md"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path):
    links = relative_links(document.read_text(encoding="utf-8"))
    broken = []
    for link in links:
        target = (document.parent / unquote(urlsplit(link).path)).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            broken.append(link)
    assert broken == []


def test_the_readme_links_the_architecture():
    assert "docs/architecture.md" in relative_links((ROOT / "README.md").read_text(encoding="utf-8"))
