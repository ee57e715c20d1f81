"""The human half of trust: the record lifecycle, review decisions, leases, audit, metrics."""
