"""Product and location master data, and reading it from EPCIS document headers (pure)."""
