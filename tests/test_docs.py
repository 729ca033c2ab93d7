"""The documentation: every full script in it runs, and the site builds with ``mkdocs --strict``.

A full script is a fenced ``python`` block whose first line is ``# full script`` or that contains
``if __name__ == "__main__":``. Each runs as a subprocess in an empty directory; keep them quick.
Other blocks are excerpts and are not run.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from shell import clean_env, run

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
FENCED_PYTHON = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def full_scripts() -> list:
    scripts = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for match in FENCED_PYTHON.finditer(text):
            code = match[1]
            if code.startswith("# full script") or 'if __name__ == "__main__":' in code:
                line = text.count("\n", 0, match.start()) + 1
                name = f"{page.relative_to(DOCS)}:{line}"
                scripts.append(pytest.param(code, id=name))
    return scripts


def test_the_docs_have_full_scripts():
    assert len(full_scripts()) >= 3


@pytest.mark.parametrize("code", full_scripts())
def test_full_script_runs(code, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(code)
    result = run(sys.executable, script, cwd=tmp_path, timeout=600)
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_the_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    env = clean_env(NO_MKDOCS_2_WARNING="1")  # no advertising banner in the output
    run(sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site, cwd=ROOT, env=env)
    assert (site / "api" / "run-context" / "index.html").exists()


def test_getting_started_names_every_first_party_plugin():
    text = (DOCS / "getting-started.md").read_text()
    plugins = sorted(path.name for path in (ROOT / "plugins").iterdir() if (path / "pyproject.toml").exists())
    assert [name for name in plugins if f"`{name}`" not in text] == []
