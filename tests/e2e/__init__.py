"""The page, a real browser and the README's commands."""
