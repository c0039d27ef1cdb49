"""Where the lab writes: targets and their clients, tables, verification, leases."""
