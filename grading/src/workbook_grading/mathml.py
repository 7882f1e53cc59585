"""Markdown with LaTeX to HTML whose math is MathML, rendered when the page is built.

A feedback page must read offline, with nothing fetched when it is viewed: no KaTeX or
MathJax from a CDN. ``latex2mathml`` turns each ``$...$`` / ``$$...$$`` into MathML,
which browsers draw natively (Chromium since 109, Firefox, Safari). Its output is not
escaped (``\\text{<b>}`` comes out as a tag), so it is parsed and rebuilt from MathML
elements and attributes only, text escaped; TeX it cannot convert is shown as code.
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as ET

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
ELEMENTS = frozenset("""math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt
    mroot mstyle mtable mtr mtd mlabeledtr mover munder munderover menclose mpadded
    mphantom merror mmultiscripts mprescripts none semantics annotation""".split())
ATTRIBUTES = frozenset("""display mathvariant stretchy fence form separator displaystyle
    scriptlevel columnalign columnspacing columnlines rowalign rowspacing rowlines frame
    framespacing width height depth lspace rspace voffset accent accentunder notation
    movablelimits largeop symmetric minsize maxsize linethickness align mathsize
    encoding""".split())


def to_mathml(tex: str, display: str = "inline") -> str:
    """``tex`` as one ``<math>`` element (``display`` "inline" or "block"), or as escaped
    ``<code class="tex">`` when it cannot be converted."""
    from latex2mathml.converter import convert

    # latex2mathml leaves `aligned`'s `&` raw (not even XML); `align*` is the same layout
    tex = re.sub(r"\\(begin|end)\{aligned\}", r"\\\1{align*}", tex)
    try:
        root = ET.fromstring(convert(tex, display=display))
        clean = _clean(root)
    except Exception:  # noqa: BLE001 -- any TeX latex2mathml does not take, shown as code
        return f'<code class="tex">{html.escape(tex)}</code>'
    clean.set("xmlns", MATHML_NS)
    return ET.tostring(clean, encoding="unicode", method="html")


def _clean(el: ET.Element) -> ET.Element:
    """A copy of ``el`` with only MathML elements and attributes (others raise)."""
    tag = el.tag.rsplit("}", 1)[-1]
    if tag not in ELEMENTS:
        raise ValueError(f"not MathML: {tag}")
    out = ET.Element(tag, {k: v for k, v in el.attrib.items() if k in ATTRIBUTES})
    out.text, out.tail = el.text, el.tail
    out.extend(_clean(child) for child in el)
    return out


@functools.lru_cache(maxsize=1)
def markdown():
    """A function: markdown text -> HTML (raw HTML escaped, tables, math as MathML)."""
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def inline_math(self, text: str) -> str:
            return to_mathml(text, "inline")

        def block_math(self, text: str) -> str:
            return f'<div class="math-block">{to_mathml(text, "block")}</div>\n'

    return mistune.create_markdown(renderer=Renderer(escape=True),
                                   plugins=[_math, "table", "strikethrough"])


# mistune's inline math, but (as in Jupyter) a formula may run over a line break, not a
# blank line: the notebooks wrap long formulas.
INLINE_MATH = (r"\$\$(?P<display_math_text>(?:[^$\\]|\\.)*?)\$\$|"
               r"\$(?P<backtick_math_marker>`+)(?P<backtick_math_text>[\s\S]*?)"
               r"(?P=backtick_math_marker)\$|"
               r"\$(?!\$)(?!\s)(?P<math_text>(?:[^$\\\n]|\n(?![ \t]*\n)|\\.)+?)\$(?!\d)")


def _math(md) -> None:
    """mistune's math plugin with ``INLINE_MATH`` (its parse functions, public API)."""
    from mistune.plugins.math import BLOCK_MATH_PATTERN, parse_block_math, parse_inline_math

    md.block.register("block_math", BLOCK_MATH_PATTERN, parse_block_math, before="list")
    md.inline.register("inline_math", INLINE_MATH, parse_inline_math, before="codespan")
