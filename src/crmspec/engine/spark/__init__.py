"""`engine: spark`: the compiled plan's statements run on Spark.

`dialect` writes crmspec's DuckDB SQL as Spark SQL with crmspec's meanings and refuses
what was not checked to mean the same; `session` starts (or joins) the Spark session the
shop's settings or the environment name; `run` runs the statements there and hands the
tables they create back to the build's DuckDB connection as Parquet, where the contact
pass, the rendering and the writers run as they do for a DuckDB build (docs/spark.md).

Nothing here imports pyspark at import time: crmspec without the `spark` extra never
loads it.
"""
