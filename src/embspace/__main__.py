"""`python -m embspace` runs the command line."""

from .cli import main

main()
