"""Lambda's event-filter patterns (FILTER_PATTERNS): compiled once, matched per record."""
