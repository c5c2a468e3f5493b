"""What the analyst and the operator read after (or instead of) a build: the plan's
KPIs per period (`kpi`), control-group evaluation from the ledger (`evaluate`), the
demo shop's simulated responses with a known uplift (`simulate`), and one customer's
verdict on every activity (`explain`).

May import: `crmspec.engine` (the prepared connection: `open_session`) and everything
below it; never `crmspec.build`.
"""
