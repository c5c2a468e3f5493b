"""A shop's repository: `init` writes a new one from the scaffold shipped in the wheel
(`scaffold/`: a minimal real plan, templates, KPIs, an SOP, .gitignore, pre-commit and
CI configuration), `imports` reads the shop's own exports into its data and points
shop.yaml at them.

May import: `plan`, `data`, `plugins`, `engine` and below; nothing imports it but the CLI.
"""
