"""Pure tests: no server, no sleep."""
