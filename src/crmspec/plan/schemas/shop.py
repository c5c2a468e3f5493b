"""shop.yaml: the shop, its data, purchase rules, contact rules, budget, evaluation
settings and shop-wide channel options."""

from __future__ import annotations

from crmspec.data.settings import ENCODINGS
from crmspec.plan.schemas.common import (
    DATE,
    LIMIT_WINDOW,
    MIN_EFFECT,
    MONEY,
    NAME,
    RANGE,
    SHARE,
    described,
    obj,
    sorted_channels,
)


def _per_table(value: dict, title: str, description: str, example: dict) -> dict:
    """A `table -> canonical column -> value` mapping of shop.yaml's data settings."""
    column_map = {
        "type": "object",
        "description": f"Canonical column -> {description}.",
        "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
        "additionalProperties": value,
        "examples": [example],
    }
    return obj(title, f"Per table, canonical column -> {description}.",
               {t: described(column_map, f"For {t}.") for t in ("customers", "orders",
                                                                 "events")})


def mapping_properties() -> dict:
    """How a shop's files are written and how their columns become canonical ones: the
    same keys in `data` (what a build reads) and in `import` (`crmspec import csv`)."""
    scalar = {"type": ["string", "number", "boolean"],
              "description": "A value (text, number, true/false)."}
    return {
        "csv": obj(
            "Text file format",
            "How the CSV/TSV files are written (source: csv, and `crmspec import csv`).",
            {
                "encoding": {"type": "string", "enum": sorted(ENCODINGS), "default": "utf-8",
                             "description": "Character encoding. A Taobao report is gbk: "
                             "gbk and gb2312 are read as gb18030 (their superset)."},
                "delimiter": {"type": "string", "pattern": "^(.|whitespace)$",
                              "default": ",", "description": "One character (`\\t` for "
                              "tabs), or `whitespace`: columns separated by runs of spaces "
                              "or tabs (such files cannot quote a field)."},
                "header": {"type": "boolean", "default": True,
                           "description": "false: the first line is a row; the columns are "
                           "named column1, column2, ..."},
                "quote": {"type": "string", "maxLength": 1, "default": '"',
                          "description": "Quote character of fields holding the delimiter "
                          "('' for none)."},
            },
        ),
        "columns": _per_table({"type": "string", "minLength": 1,
                               "description": "A column of your data."},
                              "Column mapping", "the column name in your data",
                              {"customer_id": "buyer_id", "phone": "mobile"}),
        "values": _per_table(
            {"type": "object", "description": "Your value -> the canonical value.",
             "additionalProperties": scalar},
            "Value maps", "a map of your values onto canonical ones (values not listed "
            "pass unchanged)", {"status": {"交易成功": "paid", "等待买家付款": "unpaid"}}),
        "formats": _per_table(
            {"type": "string", "minLength": 2, "pattern": "%",
             "description": "strptime codes, e.g. %Y%m%d or %Y/%m/%d %H:%M."},
            "Date and time formats", "the format of your dates or times",
            {"created_at": "%Y%m%d %H%M%S"}),
        "constants": _per_table(scalar, "Constants", "a value every row gets",
                                {"source": "normal"}),
        "derived": _per_table(
            {"type": "string", "minLength": 1,
             "description": "An expression over your columns, with the functions of a "
             "segment's `sql:` filter (checked the same way; never raw SQL)."},
            "Derived columns", "an expression computing it from your columns",
            {"amount": "单价 * 数量 - 优惠"}),
    }


def shop_schema(channels: dict) -> dict:
    data = obj(
        "Data",
        "Where the shop's customers, orders and events are. `source: demo` generates a "
        "deterministic demo shop on first use.",
        {
            "source": {
               "type": "string",
               "enum": ["demo", "duckdb", "parquet", "csv", "catalog"],
               "description": "demo (generated), a DuckDB database file, a folder of "
               "Parquet or CSV files, or tables of Spark's catalog (engine: spark; "
               "docs/spark.md).",
            },
            "path": {
               "type": "string",
               "minLength": 1,
               "description": "Database file (duckdb) or folder (parquet, csv, demo), "
               "relative to the project root. With engine: spark, parquet may be at a "
               "Hadoop-compatible URI that Spark reads (s3a://, hdfs://, abfss://, "
               "file:///); for catalog, the database of the tables.",
               "examples": ["data/export", "s3a://shop-exports/nuannuan", "crm_db"],
            },
            "allow_outside_project": {
               "type": "boolean",
               "default": False,
               "description": "Let `path` and `tables` name files outside the project (an "
               "absolute path, or one through ..): shops keep exports elsewhere, but a plan "
               "should not read an arbitrary file by accident. Never for source: demo "
               "(crmspec writes it).",
            },
            "tables": obj(
               "Table names",
               "Canonical table -> your table name (duckdb, catalog: `db.table` or a "
               "name in the database of `path`) or file name (parquet/csv). "
               "Defaults: customers, orders, events, suppressions (+ .parquet / .csv).",
               {
                    "customers": {"type": "string", "minLength": 1, "description": "Customers."},
                    "orders": {"type": "string", "minLength": 1, "description": "Orders."},
                    "events": {"type": "string", "minLength": 1, "description": "Events."},
                    "suppressions": {"type": "string", "minLength": 1,
                                     "description": "The do-not-contact list (optional)."},
               },
            ),
            **mapping_properties(),
            "demo": obj(
               "Demo shop",
               "Size and seed of the generated demo data (source: demo).",
               {
                    "customers": {"type": "integer", "minimum": 100, "maximum": 20000000,
                                  "description": "Number of customers.", "default": 20000},
                    "seed": {"type": "integer", "minimum": 0, "description": "Random seed.",
                             "default": 7},
                    "end_date": described(DATE, "Date of the last order in the demo data."),
               },
            ),
        },
        required=["source", "path"],
        examples=[{"source": "parquet", "path": "data/export",
                   "columns": {"customers": {"customer_id": "buyer_id"}}}],
    )
    return obj(
        "Shop settings",
        "shop.yaml: the shop, its data, and plan-wide rules.",
        {
            "name": described(NAME, "The shop's name, as customers know it (SMS "
                              "signatures use it)."),
            "platform": {"type": "string", "enum": ["taobao", "tmall", "jd", "pinduoduo",
                                                    "douyin", "own"],
                         "description": "Where the shop sells."},
            "timezone": {"type": "string", "default": "Asia/Shanghai",
                         "description": "IANA timezone of the shop; dates and send times are "
                         "in it.", "examples": ["Asia/Shanghai"]},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "CNY",
                         "description": "ISO 4217 currency code."},
            "as_of": {
               "description": "Default as-of date of a build: a date, or `latest` (the day "
               "after the last order in the data). `crmspec build --as-of` overrides it.",
               "oneOf": [described(DATE, "A fixed date."),
                         {"const": "latest", "description": "Day after the last order."}],
               "default": "latest",
            },
            "data": data,
            "import": obj(
               "Import settings",
               "How `crmspec import csv` reads this shop's own exports into its data: the "
               "same keys as `data` (file format, column mapping, value maps, formats, "
               "constants, derived columns). `crmspec import taobao` and `shopify` know "
               "their formats.",
               mapping_properties(),
            ),
            "customers": obj(
               "Customer types",
               "How purchases split customers into new, returning and fans.",
               {
                    "fans_min_purchases": {"type": "integer", "minimum": 3, "default": 4,
                                           "description": "Returning customers with at least "
                                           "this many purchases are fans (粉丝)."},
               },
            ),
            "purchase": obj(
               "What counts as a purchase",
               "Stated once and used everywhere: lifecycle recency, purchases, spend, KPIs.",
               {
                    "statuses": {"type": "array", "items": {"type": "string",
                                 "enum": ["paid", "refunded"]}, "minItems": 1,
                                 "uniqueItems": True, "default": ["paid"],
                                 "description": "Order statuses that count (refunded orders "
                                 "are excluded by default)."},
                    "same_day": {"type": "string", "enum": ["once", "each"], "default": "once",
                                 "description": "Several orders on one day count as one "
                                 "purchase (once) or each (each)."},
               },
            ),
            "rules": obj(
               "Plan rules",
               "Bounds the contact plan must respect (domain rule 2: the service/marketing "
               "ratio, e.g. 7 parts service to 3 parts marketing).",
               {
                    "maintenance_share": described(RANGE, "Allowed share of maintenance activities "
                                                   "among all activities of each lifecycle stage.",
                                                   examples=[{"min": 0.3, "max": 0.8}]),
               },
            ),
            "contact": obj(
               "Contact rules",
               "Who may be contacted how often: limits, suppression, hold-outs.",
               {
                    "salt": {"type": "string", "minLength": 1,
                             "description": "Secret-ish text mixed into the control-group "
                             "hash: change it to draw new control groups."},
                    "global_holdout": described(SHARE, "Share of customers excluded from all "
                                                "marketing (a standing control group).",
                                                maximum=0.5),
                    "refund_days": {"type": ["integer", "null"], "minimum": 1, "default": 30,
                                    "description": "Customers with a refunded order placed "
                                    "within this many days get no marketing (null: off)."},
                    "birthday_greetings": {"type": "boolean", "default": True,
                                           "description": "false: birthday-triggered "
                                           "activities send nothing (some customers find "
                                           "them creepy)."},
                    "limits": obj(
                        "Contact limits",
                        "Per customer, counted in calendar days; service activities are "
                        "exempt and not counted.",
                        {
                           "overall": {"type": "array", "items": LIMIT_WINDOW,
                                       "description": "Limits over all channels."},
                           "channels": {
                                "type": "object",
                                "description": "Limits per channel: channel -> windows.",
                                "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                                "additionalProperties": {"type": "array",
                                                         "items": LIMIT_WINDOW},
                           },
                        },
                    ),
               },
            ),
            "budget": obj(
               "Budget",
               "Spending caps across activities.",
               {
                    "monthly_cap": described(MONEY, "Most the plan may cost in a calendar month "
                                             "(month-to-date from the ledger); over it, marketing "
                                             "is trimmed by priority."),
                    "months": {
                        "type": "object",
                        "description": "Caps of particular months, in place of monthly_cap "
                                       "(e.g. a bigger budget in the month of 618 or 双11): "
                                       "YYYY-MM -> amount.",
                        "propertyNames": {"pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                        "additionalProperties": described(MONEY, "The cap of that month."),
                        "examples": [{"2026-11": 40000}],
                    },
               },
            ),
            "evaluation": obj(
               "Evaluation",
               "What control groups must be able to show (the power check).",
               {
                    "baseline_response": described(SHARE, "Share of customers who buy within the "
                                                   "evaluation window without a contact.",
                                                   default=0.05),
                    "min_effect": MIN_EFFECT,
                    "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5,
                              "default": 0.05, "description": "Significance level."},
                    "power": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                              "default": 0.8, "description": "Wanted power."},
                    "window_days": {"type": "integer", "minimum": 1, "default": 7,
                                    "description": "Days after the send in which a paid "
                                    "order counts as a response."},
               },
            ),
            "review": obj(
               "Plan review",
               "When a change needs an approval: `crmspec plan` exits 3 when it crosses one "
               "of these (docs/review.md). The base revision's values count, so a change "
               "cannot lower its own bar, and a change of them needs an approval itself.",
               {
                    "audience_growth": {
                        "type": "number", "exclusiveMinimum": 0,
                        "description": "An activity's audience (the customers its segment "
                        "and trigger hold for in this build) grows by more than this share "
                        "of the base's, e.g. 0.5: by more than half; an empty audience that "
                        "is no longer empty counts too.", "examples": [0.5]},
                    "monthly_cost_increase": described(
                        MONEY, "The cost of the month to date rises by more than this "
                        "amount: this build's cost against the base plan's (with --days, "
                        "the simulated builds of the same month too).",
                        examples=[2000]),
                    "control_group_required": {
                        "type": "boolean", "default": False,
                        "description": "A new marketing activity without a control group "
                        "(holdout), or an activity whose control group is dropped, needs "
                        "an approval."},
               },
            ),
            "engine": {"type": "string", "enum": ["duckdb", "spark"], "default": "duckdb",
                       "description": "Where the plan runs: DuckDB in the process, or Spark "
                       "(`pip install 'crmspec[spark]'`; docs/spark.md). `crmspec build "
                       "--engine` overrides it."},
            "spark": obj(
               "Spark settings",
               "How `engine: spark` reaches Spark. The environment overrides them: "
               "SPARK_REMOTE (a Spark Connect URL, `sc://host:15002`), else CRMSPEC_SPARK_MASTER.",
               {
                    "master": {"type": "string", "minLength": 1,
                               "description": "The master of a classic session "
                               "(`local[2]`, `yarn`, `spark://host:7077`). Default: "
                               "spark-submit's `--master`, else pyspark's `local[*]`.",
                               "examples": ["local[2]", "yarn"]},
                    "remote": {"type": "string", "pattern": "^sc://",
                               "description": "A Spark Connect URL; used instead of master.",
                               "examples": ["sc://localhost:15002"]},
                    "scratch": {"type": "string", "minLength": 1,
                                "description": "Folder for the Parquet handed between crmspec "
                                "and Spark: a path this process and Spark's executors both "
                                "reach (a shared mount on a cluster). Default: a temporary "
                                "local folder.",
                                "examples": ["/mnt/shared/crmspec"]},
                    "conf": {"type": "object", "description": "Spark configuration options.",
                             "additionalProperties": {"type": ["string", "number", "boolean"]},
                             "examples": [{"spark.sql.shuffle.partitions": 200}]},
               },
            ),
            "ledger": obj(
               "Contact ledger",
               "Where the record of every contact and hold-out is kept.",
               {"path": {"type": "string", "minLength": 1, "default": "state/ledger.duckdb",
                         "description": "DuckDB file, relative to the project root."}},
            ),
            "channels": obj(
               "Channel settings",
               "Shop-wide defaults of channel options (e.g. the SMS signature); an "
               "activity's channel_options override them.",
               {name: ch.options_schema() for name, ch in sorted_channels(channels).items()},
               examples=[{"sms": {"signature": "暖暖家居", "opt_out_text": "回T退订"}}],
            ),
        },
        required=["name", "data"],
        examples=[{"name": "暖暖家居旗舰店", "data": {"source": "demo", "path": "data/demo"}}],
    )
