"""`embspace serve` (issue 4, being written)."""
COMMANDS: list = []
