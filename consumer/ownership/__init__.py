"""Who owns a partition, and what its owner hands over: the group's sticky assignor, the
leases and done offsets kept in each partition's committed metadata."""
