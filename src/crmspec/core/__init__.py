"""Shared helpers every layer may use: diagnostics and their locations
(`diagnostics`), masking of contact details (`mask`), what a usable address looks
like (`addresses`), SQL literals and identifiers (`sql`) and plain-text tables
(`tabular`).

May import: nothing of crmspec.
"""
