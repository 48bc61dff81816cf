"""The reference workload: a realistic pharmaceutical packaging site as EPCIS 2.0 JSON-LD."""
