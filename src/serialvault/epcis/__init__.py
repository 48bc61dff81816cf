"""EPCIS 2.0: the document model, readers (JSON-LD, XML 2.0 and 1.2), writers,
validation (schema + CBV vocabulary) and the GS1 event hash ID.

Pure: parses and checks bytes already in memory; no database, file or network access.
"""
