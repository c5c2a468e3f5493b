"""The command line (`commands`: thin wiring from click options to one library function
each) and the terminal output of builds and explanations (`console`).

May import: everything; nothing imports it.
"""

from crmspec.cli.commands import main

__all__ = ["main"]
