"""serialvault — the system of record for pharmaceutical serialization and aggregation.

GS1 EPCIS 2.0 capture and query on one append-only, hash-chained log, with projections
rebuilt from it; backups and drills build on that log (see ARCHITECTURE.md).
"""

__version__ = "0.1.0"
