"""GS1 identifiers, pure: check digits, GTIN, NDC, SGTIN, SSCC, GLN/SGLN, lot and expiry
(``gtin``, ``ndc``, ``sscc``, ``gln``, ``sgtin``, ``lot``), EPC pure-identity URNs and GS1
Digital Link URIs for every GS1 key (``epc``, ``company_prefix``), element strings and
scanned barcodes through ``biip`` (``element_string``). Every bad value raises
:class:`serialvault.errors.IdentifierError` naming the value and the reason.
"""
