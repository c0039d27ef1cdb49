"""Before anything runs: how long a plan takes, and how to load N items."""
