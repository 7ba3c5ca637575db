"""Year-end catalog PDF of a 30-pupil, 15-subject class (made-up data in the contract shape of
`grades.class_catalog`), beside the same data serialised as the class catalog JSON (orjson),
in alternating rounds in this process. Then one render under cProfile, to name what dominates.

`python -m bench.documents [--rounds N] [--pupils 30] [--subjects 15]`
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time

import orjson

from services.grades.documents import canonical
from services.grades.documents.pdf_catalog import render_catalog_pdf
from services.grades.documents.sample import sample_class_catalog, sample_names
from services.grades.documents.xlsx_catalog import write_catalog_xlsx

from .common import Row, print_table, write_results

NAME = "documents"
VERIFY = "https://catalog.example.ro/v1/documents/verify"
# where the time of a render goes, by the module that spends it (cProfile's own time per function)
BUCKETS = (("reportlab.platypus.tables", "table layout (platypus Table: sizes, splits, drawing cells)"),
           ("reportlab.platypus.paragraph", "paragraphs (wrapping text)"),
           ("reportlab.pdfbase.ttfonts", "TrueType font: subsetting and embedding"),
           ("reportlab.pdfbase.pdfmetrics", "string widths (font metrics)"),
           ("reportlab.pdfgen", "canvas drawing operators"),
           ("reportlab.pdfbase.pdfdoc", "PDF objects and compression"),
           ("reportlab.lib", "reportlab helpers (colours, units, utils)"),
           ("reportlab.platypus", "other page layout (frames, doc template, flowables)"),
           ("segno", "QR code"),
           ("services.grades.documents", "our code (building the story, QR paths, footer)"),
           ("zlib", "zlib compression"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--pupils", type=int, default=30)
    p.add_argument("--subjects", type=int, default=15)
    return p.parse_args(argv)


def render(data, school, names, fingerprint) -> tuple[int, int]:
    out = io.BytesIO()
    pages = render_catalog_pdf(data, out, school=school, names=names, fingerprint=fingerprint, verify_url=VERIFY,
                               director="Bogdan Țăranu")
    return pages, len(out.getvalue())


def timed(fn, repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def bucket_of(filename: str, funcname: str) -> str:
    path = filename.replace("/", ".")
    if filename == "~" and "zlib" in funcname:
        return "zlib compression"
    for prefix, label in BUCKETS:
        if prefix in path:
            return label
    return "other (Python built-ins, json, io)"


def profile(data, school, names, fingerprint) -> tuple[str, dict[str, float]]:
    profiler = cProfile.Profile()
    profiler.enable()
    render(data, school, names, fingerprint)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # own time of every function
    buckets: dict[str, float] = {}
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        label = bucket_of(filename, funcname)
        buckets[label] = buckets.get(label, 0.0) + tottime
    shares = {k: 100 * v / total for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])}
    top = io.StringIO()
    pstats.Stats(profiler, stream=top).sort_stats("tottime").print_stats(12)
    lines = ["Where a render's time goes (cProfile, own time by module):"]
    lines += [f"  {label:<62} {pct:5.1f} %" for label, pct in shares.items()]
    lines.append("Top functions by own time:")
    lines += ["  " + line for line in top.getvalue().splitlines() if line.strip().startswith(("ncalls",)) or
              (line.strip() and line.strip()[0].isdigit())][:14]
    return "\n".join(lines), shares


def main(argv=None) -> int:
    args = parse_args(argv)
    data = sample_class_catalog(pupils=args.pupils, subjects=args.subjects)
    school, names = sample_names(data)
    fingerprint = canonical.fingerprint(data)
    pages, size = render(data, school, names, fingerprint)  # warm: fonts registered, modules loaded
    json_s, pdf_s, fp_s, xlsx_s = [], [], [], []
    for _ in range(args.rounds):  # alternating, so both see the same machine
        json_s.append(timed(lambda: orjson.dumps(data), repeat=50))
        pdf_s.append(timed(lambda: render(data, school, names, canonical.fingerprint(data))))
        fp_s.append(timed(lambda: canonical.fingerprint(data), repeat=20))
        xlsx_s.append(timed(lambda: write_catalog_xlsx(data, io.BytesIO(), school=school, fingerprint=fingerprint)))
    json_med, pdf_med = statistics.median(json_s), statistics.median(pdf_s)
    fp_med, xlsx_med = statistics.median(fp_s), statistics.median(xlsx_s)
    profile_text, shares = profile(data, school, names, fingerprint)
    dominant = next(iter(shares))
    rows = [Row("seconds per class (PDF)", json_med, pdf_med, "s"),
            Row("pages per second", pages / json_med, pages / pdf_med, "pages/s"),
            Row("fingerprint (canonical + SHA-256)", json_med, fp_med, "s"),
            Row("XLSX workbook", json_med, xlsx_med, "s")]
    notes = [f"{args.pupils} pupils, {args.subjects} subjects, {pages} pages, PDF {size / 1024:.0f} KiB, "
             f"JSON {len(orjson.dumps(data)) / 1024:.0f} KiB; median of {args.rounds} alternating rounds",
             "baseline column: the same class serialised as the catalog JSON view (orjson.dumps); "
             "the 'pages per second' baseline is pages / JSON time, only to keep the ratio's meaning",
             f"dominant in the PDF render: {dominant} ({shares[dominant]:.0f} % of its own time)",
             f"a 40-class school set at this speed: about {40 * pdf_med:.0f} s of one core"]
    table = print_table("Year-end catalog PDF vs the class catalog JSON", "orjson.dumps(class catalog)",
                        "render_catalog_pdf (reportlab, DejaVu Sans embedded, QR + fingerprint per page)",
                        rows, notes)
    print(profile_text, flush=True)
    write_results(NAME, {"args": vars(args), "rows": rows, "pages": pages, "pdf_bytes": size,
                         "seconds": {"json": json_s, "pdf": pdf_s, "fingerprint": fp_s, "xlsx": xlsx_s},
                         "profile_shares_pct": shares, "table": table, "cpu_text": profile_text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
