"""Periodic reviews: the audit-trail review of a period and the access review, written
as a folder of report files (JSON findings, HTML, PDF) whose SHA-256 the log records."""
