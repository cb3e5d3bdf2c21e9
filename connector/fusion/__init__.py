"""Everything that speaks Oracle Fusion: OAuth2 tokens, REST resources and the SOAP services."""
