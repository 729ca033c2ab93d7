"""MkDocs hook: render the Sphinx roles of our docstrings (``:class:`~pkg.mod.Name```) as code.

Docstrings use Sphinx field lists and roles; mkdocstrings parses the fields (``:param x:``) but
leaves roles in the text. This turns ``:class:`~pkg.Name``` into ``Name`` and
``:mod:`pkg.mod``` into ``pkg.mod``, both as inline code.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|obj|exc|const):<code>(~?)([^<]+)</code>")


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub(lambda m: f"<code>{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}</code>", html)
