"""The pure domain core: event facts, the lifecycle and hierarchy rules (``lifecycle``),
the hash chain (``chain``), log-record bodies (``records``) and the first, pure stage of
capture (``prepare``). No database, file or network access.
"""
