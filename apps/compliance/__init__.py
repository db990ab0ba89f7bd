"""Compliance work in one place: erasure, retention, backups and exports, the compliance admin.

It spans query history (answers), feedback, tenant settings and the audit trail, so it sits above
all of them; no product app imports it. The models stay in their own apps.
"""
