"""Reports for people: a Jinja2 template rendered to HTML, and the same page as a PDF.

One machinery for every report serialvault writes (drill evidence, audit-trail and
access reviews): templates are package data, auto-escaped, and an undefined name is an
error rather than an empty cell (ALCOA+ "legible", "accurate"). WeasyPrint — and the
Pango it needs — load only when a PDF is written.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape


def render_html(package: str, template: str, **context: Any) -> str:
    """Render ``templates/<template>`` of ``package`` (e.g. ``serialvault.drill``)."""
    env = Environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    source = (files(package) / "templates" / template).read_text("utf-8")
    return env.from_string(source).render(**context)


def write_pdf(html: str, out: Path, base: Path) -> None:
    """The same page as a PDF (WeasyPrint), for signing and filing; relative links
    (a chart) resolve against ``base``."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    HTML(string=html, base_url=str(base)).write_pdf(out)
