"""Backups: targets, sealed objects, manifests, full and incremental backup, verify, restore.

See DESIGN.md "Backup" and ARCHITECTURE.md. This package is an adapter around the store:
it reads the repository through ``serialvault.store`` and writes to targets.
"""
