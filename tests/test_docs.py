"""The docs say what the code does: every setting and exit code in docs/configuration.md,
every `dossier` command in the README's commands table, and no relative link that leads
nowhere."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import typer.main

from cli.main import app
from models.errors import ExitCode
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("|")]


def _section(text: str, title: str) -> str:
    """The text under the level-2 heading ``title``, up to the next level-2 heading."""
    found = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert found, f"README.md has no '## {title}' section"
    return found.group(1)


def _commands() -> list[str]:
    """Every `dossier` command, groups' commands as 'group command'."""
    out: list[str] = []
    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        if subs:
            out += [f"{name} {sub}" for sub in subs]
        else:
            out.append(name)
    return sorted(out)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = CODE_SPAN.sub(lambda m: m.group(0)[1:-1], heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in text.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = _slug(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_with_its_variable(name):
    text = CONFIGURATION.read_text(encoding="utf-8")
    variable = f"DOSSIER_{name.upper()}"
    rows = [r for r in _table_rows(text) if re.search(rf"`{variable}`", r)]
    assert rows, f"docs/configuration.md has no table row for {variable}"


@pytest.mark.parametrize("code", list(ExitCode), ids=lambda c: c.name)
def test_every_exit_code_is_documented_with_its_number(code):
    text = CONFIGURATION.read_text(encoding="utf-8")
    row = re.compile(rf"^\|\s*{int(code)}\s*\|\s*`{code.name}`\s*\|", re.M)
    assert row.search(text), (f"docs/configuration.md has no row '| {int(code)} | "
                              f"`{code.name}` | ...' for exit code {code.name}")


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme_commands_table(command):
    rows = _table_rows(_section(README.read_text(encoding="utf-8"), "Commands"))
    group, _, sub = command.partition(" ")
    if sub:
        hit = [r for r in rows if re.search(rf"\bdossier {group}\b", r)
                  and re.search(rf"(?<![\w-]){re.escape(sub)}(?![\w-])", r)]
    else:
        hit = [r for r in rows if re.search(rf"`dossier {re.escape(group)}(?![\w-])", r)]
    assert hit, f"README.md's commands table has no row for `dossier {command}`"


def _links() -> list[tuple[Path, str]]:
    out = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        text = CODE_SPAN.sub("", text)
        out += [(path, m.group(1)) for m in LINK.finditer(text)]
    return out


@pytest.mark.parametrize("source,target", _links(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_relative_link_leads_somewhere(source, target):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
        return
    where, _, anchor = target.partition("#")
    dest = (source.parent / where).resolve() if where else source
    assert dest.exists(), f"{source.relative_to(ROOT)} links to {target}: no such file"
    if anchor and dest.suffix == ".md":
        assert anchor in _anchors(dest), (
            f"{source.relative_to(ROOT)} links to {target}: {dest.name} has no such heading")


def test_the_docs_have_links_to_check():
    assert len(_links()) > 20
