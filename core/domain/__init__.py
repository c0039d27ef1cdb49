"""What the lab talks about: approaches, books, capacity rules, endpoints, plans, results, prices."""
