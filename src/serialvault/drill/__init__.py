"""Backup/restore drills: plans, runs, evidence (EU GMP Annex 11 §7.2)."""
