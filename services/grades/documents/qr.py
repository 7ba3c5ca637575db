"""The QR code printed on every page: the verification address with the fingerprint (segno).

Scanning it opens `GET /v1/documents/verify?f=<fingerprint>`; the same text pasted into
`POST /v1/documents/verify` works too. Drawn as vector rectangles (one per run of dark
modules), so it prints sharp at any size.
"""
from __future__ import annotations

import segno
from reportlab.lib import colors


def qr_payload(verify_url: str, fingerprint: str) -> str:
    return f"{verify_url}?f={fingerprint}"


def qr_matrix(payload: str) -> tuple:
    """Rows of modules (truthy = dark), without the quiet zone; error correction level M."""
    return segno.make(payload, error="m").matrix


def draw_qr(canv, payload: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(payload)
    module = size / len(matrix)
    path = canv.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                path.rect(x + start * module, y + size - (r + 1) * module, (c - start) * module, module)
            else:
                c += 1
    canv.setFillColor(colors.black)
    canv.drawPath(path, stroke=0, fill=1)
