"""Running a compiled plan on an engine (DuckDB): the connection recipe
(`connection`), a shop's plan and data ready to run (`session`: `open_session` is where
`build`, `kpi`, `evaluate` and `explain` start), the plan's statements and every
activity's candidates (`run`), the contact pass (`decide`), and a connection that keeps
its set-up statements for `crmspec compile` (`script`).

Everything that holds a connection for a command lives here, so that a second engine
has one place to go.
May import: `crmspec.outputs`, `crmspec.validate` and everything below them.
"""
