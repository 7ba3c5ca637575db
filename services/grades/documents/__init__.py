"""Printed documents of the catalog: the year-end class catalog a director signs (CAT-10),
report cards, the XLSX export, their fingerprints and the verification of a printout.

The renderers and the fingerprint are pure modules (no database, broker or web import):
they take the class catalog in the shape of `grades.class_catalog` (see `source.py`).
"""
