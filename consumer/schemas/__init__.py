"""Schema-registry records: framing, registries, and decoders from each format to JSON."""
