"""`python -m vidcurate.cli`."""

from vidcurate.cli import main

main()
