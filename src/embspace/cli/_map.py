"""`embspace map` (issue 4, being written)."""
COMMANDS: list = []
