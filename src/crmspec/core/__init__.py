"""Shared helpers every layer may use: diagnostics and their locations
(`diagnostics`), masking of contact details (`mask`), what a usable address looks
like (`addresses`), SQL literals and identifiers (`sql`), plain-text tables
(`tabular`) and what long commands report as they go (`progress`).

May import: nothing of crmspec.
"""
