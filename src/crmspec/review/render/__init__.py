"""The renderings of a review: plain text for a terminal or CI log (`text`), Markdown for a
pull-request comment, in parts (`markdown`), JSON for other tools (`data`); `common`
holds their shared wording. `write_review` puts all three in a folder."""

from __future__ import annotations

from pathlib import Path

from crmspec.outputs.files import write_text
from crmspec.review.render.data import render_json
from crmspec.review.render.markdown import MARKER_PREFIX, PART_LIMIT, render_markdown
from crmspec.review.render.text import render_text
from crmspec.review.run import Review

FORMATS = ("text", "markdown", "json")

__all__ = ["FORMATS", "MARKER_PREFIX", "PART_LIMIT", "render", "write_review"]


def render(review: Review, fmt: str) -> str:
    """The review in one format, as printed (Markdown: every part, each with its marker
    line, one after the other)."""
    if fmt == "json":
        return render_json(review)
    if fmt == "markdown":
        return "\n".join(render_markdown(review))
    return render_text(review)


def write_review(review: Review, folder: Path) -> list[str]:
    """review.txt, review.json and comment-<n>.md (one per Markdown part, for a bot to
    post) written into `folder`, each file replaced atomically; comment files of a
    longer earlier review removed. Nothing else in the folder is touched (it may be the
    checkout's own folder). The files written, relative to it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"review.txt": render_text(review), "review.json": render_json(review)}
    for i, part in enumerate(render_markdown(review), 1):
        files[f"comment-{i}.md"] = part
    for name, text in files.items():
        write_text(folder / name, text)
    for stale in folder.glob("comment-*.md"):
        if stale.name not in files and stale.stem[len("comment-"):].isdigit():
            stale.unlink()
    return sorted(files)
