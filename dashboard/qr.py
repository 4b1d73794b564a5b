"""QR codes as inline SVG (segno, pure Python): no image request, nothing for the CSP to refuse."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, *, title: str) -> Markup:
    """`text` as a QR code a phone's camera reads from a screen (error correction M, 5 px modules, quiet zone)."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=5, title=title, svgclass="qr", lineclass=None))
