"""The checker: tokens, then the parsed tree node by node against the vocabulary, then
the columns against those the caller declared, then a trial bind. Every failure is a
`SqlFilterError` with a character offset into the filter text."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from crmspec.safesql.checked import SafeFilter, SqlFilterError
from crmspec.safesql.vocabulary import (
    ALLOWED_FUNCTIONS,
    ALLOWED_SYNTAX,
    BOOLEAN_FUNCTION_CLASSES,
    BOOLEAN_FUNCTION_NAMES,
    CAST_TYPE_NAMES,
    CAST_TYPES,
    CLOCK_CLASSES,
    CLOCK_NAMES,
    COMPARISONS,
    CONDITION_HINT,
    CONDITION_NODES,
    CONNECTORS,
    DATE_PART_ALIASES,
    DATE_PART_NAMES,
    FULLWIDTH,
    FUNCTION_CLASSES,
    INTERVAL_NUMBER_RE,
    INTERVAL_PART_RE,
    INTERVAL_TEXT_RE,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_PARENS,
    NUMBER_RE,
    PARAMETER_CLASSES,
    PATTERN_MATCHES,
    PLAIN_NODES,
    READ_DIALECT,
    STATEMENT_CLASSES,
    SUBQUERY_CLASSES,
    SYSTEM_CLASSES,
    SYSTEM_NAMES,
    SYSTEM_PREFIXES,
    node_classes,
)


class Checker:
    def __init__(self, text: str, columns: Mapping[str, str], condition: bool = True) -> None:
        # condition=False: a value (a derived column of a shop's export), not a test
        self.condition = condition
        if not isinstance(text, str):
            raise SqlFilterError(f"the filter must be text, not {type(text).__name__}", None)
        self.text = text
        self.types = {str(name): str(typ) for name, typ in columns.items()}
        self.by_lower: dict[str, list[str]] = {}
        for name in self.types:
            self.by_lower.setdefault(name.lower(), []).append(name)
        self.tokens: list[Token] = []
        self.used: set[str] = set()

    # -- entry point -------------------------------------------------------------------

    def run(self) -> SafeFilter:
        text = self.text
        if len(text) > MAX_FILTER_LENGTH:
            raise SqlFilterError(
                f"the filter is {len(text)} characters long; at most {MAX_FILTER_LENGTH} are "
                "allowed (split it into several segments)",
                MAX_FILTER_LENGTH,
            )
        if "\x00" in text:
            raise SqlFilterError("the filter contains a NUL character", text.index("\x00"))
        self.tokens = self._tokenize()
        if not self.tokens:
            raise SqlFilterError(f"the filter is empty; write a condition {CONDITION_HINT}", 0)
        self._check_tokens()
        self._check_parentheses()
        tree = self._parse()
        if isinstance(tree, STATEMENT_CLASSES):
            raise SqlFilterError(
                f"SQL statements are not allowed; write only a condition {CONDITION_HINT}",
                self.tokens[0].start,
            )
        self._check(tree, 0)
        if self.condition and (not self._is_boolean(tree) or _is_constant(tree)):
            what = "a constant" if _is_constant(tree) else "a value"
            raise SqlFilterError(
                "the filter must be a condition that is true or false for each customer, "
                f"{CONDITION_HINT}; this is {what}",
                self.tokens[0].start,
            )
        for node in list(tree.walk()):
            # Comments would otherwise be copied into the generated SQL.
            node.comments = None
        if not self.used and self.condition:
            raise SqlFilterError(
                "the filter reads no column, so it is the same for every customer; say "
                "`everyone: true` on the segment if every customer is meant",
                self.tokens[0].start,
            )
        safe = SafeFilter(expression=tree, columns=frozenset(self.used))
        self._bind_check(safe)
        return safe

    def _bind_check(self, safe: SafeFilter) -> None:
        """Last line of defence: DuckDB must parse, bind and run the regenerated condition.

        sqlglot accepts some shapes DuckDB does not (`a BETWEEN b NOT NULL`), and types
        only DuckDB knows can clash (`birthday > 3`); finding that here keeps it a plan
        error instead of a failed build. A condition is then run on two made-up
        customers (every column NULL, and every column a plain value: SAMPLE_VALUES),
        which finds what only running shows whatever the data: an invalid regular
        expression or LIKE escape, a division by a constant zero, a literal that is not
        a date or a number of the column's type, an overflowing constant. What depends
        on real values is found by the build (E313). A value (a derived column) is not
        run: it reads an export's raw text, which a plain value does not stand for.
        """
        import duckdb

        names = sorted(safe.columns)
        nulls = ", ".join(f'CAST(NULL AS {self.types[c]}) AS "{c}"' for c in names)
        plain = ", ".join(f'CAST({_sample(self.types[c])} AS {self.types[c]}) AS "{c}"'
                          for c in names)
        rows = f"SELECT {nulls} UNION ALL SELECT {plain}"
        con = _trial_connection()
        try:
            query = (f"SELECT count(*) FROM ({rows}) AS t WHERE {safe.sql()}"
                     if self.condition else f"SELECT {safe.sql()} FROM ({rows}) AS t")
            con.execute(f"EXPLAIN {query}")
            try:
                if self.condition:  # a value (a derived column) reads raw export text
                    con.execute(query).fetchall()
            except duckdb.Error as error:
                first = str(error).splitlines()[0]
                shown = ", ".join(f"{c} = {_sample(self.types[c])}" for c in names)
                raise SqlFilterError(
                    f"DuckDB cannot run this condition on a customer with {shown} "
                    f"({first}); {CONDITION_HINT}", None) from None
        except duckdb.Error as error:
            first = str(error).splitlines()[0]
            raise SqlFilterError(
                f"DuckDB cannot run this condition ({first}); {CONDITION_HINT}", None
            ) from None

    # -- text level --------------------------------------------------------------------

    def _tokenize(self) -> list[Token]:
        try:
            return sqlglot.tokenize(self.text, read=READ_DIALECT)
        except TokenError as error:
            raise self._token_error(error) from error

    def _token_error(self, error: TokenError) -> SqlFilterError:
        cause = str(error.__cause__ or "")
        missing = re.match(r"Missing (.+?) from \d+:(\d+)$", cause)
        if missing:
            delimiter, offset = missing.group(1), int(missing.group(2))
            offset = max(0, min(offset, len(self.text) - 1))
            if delimiter in ("'", '"'):
                # The scanner may report the last character read rather than the opening
                # quote, which is where the author has to look.
                offset = self._opening_quote(delimiter, offset)
            what = {
                "'": "text (string) started with ' is never closed; end it with ' "
                "(write '' for a quote inside the text)",
                '"': 'quoted column name started with " is never closed',
            }.get(delimiter, f"quoted text started with {delimiter} is never closed")
            return SqlFilterError(f"syntax error: {what}", offset)
        comment = self.text.rfind("/*")
        if comment >= 0 and "*/" not in self.text[comment:]:
            return SqlFilterError("syntax error: comment started with /* is never closed", comment)
        return SqlFilterError(f"syntax error: the filter cannot be read ({cause or error})", None)

    def _opening_quote(self, quote: str, fallback: int) -> int:
        # Scan like the tokenizer does for the simple quoting rules, to point at the quote
        # that opened the unterminated text.
        inside, start, i = False, fallback, 0
        while i < len(self.text):
            char = self.text[i]
            if not inside and self.text.startswith("--", i):
                newline = self.text.find("\n", i)
                i = len(self.text) if newline < 0 else newline
                continue
            if char == quote:
                if inside and self.text.startswith(quote * 2, i):
                    i += 2
                    continue
                inside = not inside
                start = i
            i += 1
        return start if inside else fallback

    def _check_tokens(self) -> None:
        first = self.tokens[0]
        for token in self.tokens:
            if token.token_type == TokenType.SEMICOLON:
                raise SqlFilterError(
                    "only one condition is allowed: remove the ';' and anything after it",
                    token.start,
                )
            if token.token_type == TokenType.VAR:
                for i, char in enumerate(self.text[token.start : token.end + 1]):
                    if char in FULLWIDTH:
                        ascii_char = unicodedata.normalize("NFKC", char)
                        raise SqlFilterError(
                            f"full-width '{char}' is not SQL; type the ASCII '{ascii_char}' "
                            "instead (full-width text is fine inside quotes)",
                            token.start + i,
                        )
        if first.token_type in _statement_tokens():
            word = self.text[first.start : first.end + 1]
            hint = (
                f' (the column {word} must be written in double quotes: "{word}")'
                if word.lower() in self.by_lower
                else ""
            )
            raise SqlFilterError(
                f"SQL statements ({word.upper()} ...) are not allowed; write only a condition "
                f"{CONDITION_HINT}{hint}",
                first.start,
            )

    def _parse(self) -> exp.Expression:
        try:
            trees = sqlglot.parse(self.text, read=READ_DIALECT)
        except ParseError as error:
            raise self._parse_error(error) from error
        except TokenError as error:
            raise self._token_error(error) from error
        trees = [t for t in trees if t is not None]
        if not trees:
            raise SqlFilterError(f"the filter is empty; write a condition {CONDITION_HINT}", 0)
        if len(trees) > 1:  # pragma: no cover - semicolons are refused before parsing
            raise SqlFilterError("only one condition is allowed", None)
        return trees[0]

    def _parse_error(self, error: ParseError) -> SqlFilterError:
        details = error.errors[0] if getattr(error, "errors", None) else {}
        highlight = str(details.get("highlight") or "")
        line, col = details.get("line"), details.get("col")
        offset = None
        if isinstance(line, int) and isinstance(col, int):
            lines = self.text.split("\n")
            line_start = sum(len(ln) + 1 for ln in lines[: max(line - 1, 0)])
            # sqlglot reports the 1-based column of the *last* character of the bad token.
            offset = max(0, min(line_start + col - len(highlight), len(self.text)))
        description = str(details.get("description") or error)
        if description.startswith("Required keyword"):
            reason = "the expression is incomplete (an operand or argument is missing)"
        elif description.startswith("Expecting )"):
            reason = "a ')' is missing"
        elif description.startswith("Invalid expression / Unexpected token"):
            reason = "unexpected text"
        else:
            reason = re.sub(r"<class '[\w.]*?(\w+)'>", r"\1", description)
        near = f" near {highlight!r}" if highlight else ""
        return SqlFilterError(f"syntax error{near}: {reason}", offset)

    # -- offsets -----------------------------------------------------------------------

    def _offset(self, node: exp.Expression, keywords: tuple[str, ...] = ()) -> int | None:
        """Where a node starts in the text; sqlglot keeps positions only on some nodes."""
        own = _meta_start(node)
        if own is not None:
            return own
        starts = [s for n in node.walk() if (s := _meta_start(n)) is not None]
        first = min(starts) if starts else None
        if keywords:
            wanted = {k.upper() for k in keywords}
            hits = [
                t.start
                for t in self.tokens
                if self.text[t.start : t.end + 1].upper() in wanted
                and (first is None or t.start <= first)
            ]
            if hits:
                return max(hits) if first is not None else hits[0]
        return first

    def _name(self, node: exp.Expression, keywords: tuple[str, ...] = ()) -> str:
        """The function name as the author typed it, for messages they will recognise."""
        start, end = node.meta.get("start"), node.meta.get("end")
        if isinstance(start, int) and isinstance(end, int):
            return self.text[start : end + 1]
        if isinstance(node, exp.Anonymous):
            return str(node.name)
        offset = self._offset(node, keywords) if keywords else None
        for token in self.tokens:
            if offset is not None and token.start == offset:
                return self.text[token.start : token.end + 1]
        return node.sql_name().lower() if isinstance(node, exp.Func) else node.key.upper()

    # -- the allowlist -----------------------------------------------------------------

    def _check_parentheses(self) -> None:
        """Parentheses nested deeper than MAX_PARENS are refused before sqlglot parses
        them: its parser recurses per level, so without this bound the outcome would hang
        on the interpreter's recursion limit, which libraries change (pyspark's Spark
        Connect client raises it from 1,000 to 3,000 on import)."""
        depth = 0
        for token in self.tokens:
            if token.token_type == TokenType.L_PAREN:
                depth += 1
                if depth > MAX_PARENS:
                    raise SqlFilterError("the filter is nested too deeply; simplify it",
                                         token.start)
            elif token.token_type == TokenType.R_PAREN:
                depth -= 1

    def _check(self, node: exp.Expression, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SqlFilterError("the filter is nested too deeply; simplify it", self._offset(node))
        if isinstance(node, CONNECTORS):
            # Long AND/OR chains are deep trees; flatten them instead of recursing.
            for operand in node.flatten():
                self._check(operand, depth + 1)
                self._require_condition(operand, node.key.upper())
        elif isinstance(node, exp.Not):
            self._check(node.this, depth + 1)
            self._require_condition(node.this, "NOT")
        elif isinstance(node, exp.Column):
            self._check_column(node)
        elif isinstance(node, exp.Literal):
            if not node.is_string and not NUMBER_RE.fullmatch(str(node.this)):
                raise SqlFilterError(f"unexpected literal {node.this!r}", self._offset(node))
        elif isinstance(node, (exp.Boolean, exp.Null)):
            pass
        elif isinstance(node, exp.In):
            self._check_in(node, depth)
        elif isinstance(node, exp.Is):
            if not isinstance(node.expression, (exp.Null, exp.Boolean)):
                raise SqlFilterError(
                    "IS must be followed by NULL, TRUE or FALSE; compare values with = or "
                    "IS [NOT] DISTINCT FROM",
                    self._offset(node.expression),
                )
            self._check(node.this, depth + 1)
        elif isinstance(node, exp.Escape):
            if not isinstance(node.this, PATTERN_MATCHES) or not _is_string(node.expression):
                raise SqlFilterError(
                    "ESCAPE must follow LIKE/ILIKE and be a quoted character",
                    self._offset(node.expression),
                )
            self._check_children(node, depth)
        elif isinstance(node, COMPARISONS):
            for operand in (node.this, node.expression):
                if isinstance(operand, COMPARISONS):
                    # sqlglot accepts a = b = c, DuckDB refuses it at run time.
                    raise SqlFilterError(
                        "chained comparisons are not supported; combine them with AND, "
                        "e.g. city_tier >= 1 AND city_tier <= 3",
                        self._offset(operand),
                    )
            self._check_children(node, depth)
        elif isinstance(node, PLAIN_NODES):
            self._check_children(node, depth)
        elif isinstance(node, exp.Cast):  # also TryCast
            self._check_cast(node, depth)
        elif isinstance(node, exp.Interval):
            self._check_interval(node)
        elif type(node) in FUNCTION_CLASSES:
            self._check_children(node, depth, units=True)
        elif isinstance(node, exp.Anonymous) and str(node.name).lower() in ALLOWED_FUNCTIONS:
            self._check_children(node, depth)
        else:
            self._reject(node)

    def _require_condition(self, operand: exp.Expression, operator: str) -> None:
        # Caught here rather than as a DuckDB cast error in the middle of a build.
        if not self._is_boolean(operand) and not isinstance(operand, exp.Null):
            raise SqlFilterError(
                f"{operator} needs conditions, but {_snippet(operand)} is a value; compare it, "
                "e.g. gender = 'F'",
                self._offset(operand),
            )

    def _check_children(self, node: exp.Expression, depth: int, units: bool = False) -> None:
        for key, value in node.args.items():
            for child in value if isinstance(value, list) else [value]:
                if not isinstance(child, exp.Expression):
                    continue  # flags such as NOT in LIKE, set by the parser itself
                if units and key == "unit":
                    self._check_unit(node, child)
                else:
                    self._check(child, depth + 1)

    def _check_column(self, node: exp.Column) -> None:
        if isinstance(node.this, exp.Star):
            raise SqlFilterError("'*' is not allowed: name the column", self._offset(node))
        if not isinstance(node.this, exp.Identifier):
            self._reject(node.this)
        parts = [p for p in (node.args.get(k) for k in ("catalog", "db", "table")) if p]
        if parts:
            start = self._offset(node)
            end = node.this.meta.get("end")
            written = (
                self.text[start : end + 1]
                if isinstance(start, int) and isinstance(end, int)
                else node.sql(dialect=READ_DIALECT)
            )
            raise SqlFilterError(
                f"qualified column name {written!r}: write the bare column name {node.name!r}",
                start,
            )
        name = node.name
        canonical = name if name in self.types else None
        if canonical is None and len(self.by_lower.get(name.lower(), [])) == 1:
            canonical = self.by_lower[name.lower()][0]  # DuckDB names are case-insensitive
        if canonical is None:
            raise SqlFilterError(self._unknown_column_message(name), self._offset(node))
        identifier = exp.to_identifier(canonical, quoted=True)
        identifier.meta.update(node.this.meta)  # keeps the position for later messages
        node.set("this", identifier)
        self.used.add(canonical)

    def _unknown_column_message(self, name: str) -> str:
        by_lower = {k.lower(): k for k in self.types}
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
        if close:
            names = " or ".join(repr(by_lower[c]) for c in close)
            return f"unknown column {name!r}; did you mean {names}?"
        known = ", ".join(sorted(self.types)) or "(none)"
        return f"unknown column {name!r}; known columns: {known}"

    def _check_in(self, node: exp.In, depth: int) -> None:
        if node.args.get("query") is not None:
            self._reject(node.args["query"])
        for key in ("unnest", "field"):
            if node.args.get(key) is not None:
                raise SqlFilterError(
                    "IN must be followed by a list of values in parentheses, e.g. "
                    "province IN ('浙江', '上海')",
                    self._offset(node.args[key]),
                )
        values = node.expressions
        if not values:
            raise SqlFilterError("IN () needs at least one value", self._offset(node))
        self._check(node.this, depth + 1)
        for value in values:
            self._check(value, depth + 1)
            if not _is_constant(value):
                raise SqlFilterError(
                    "IN (...) may only list literal values, e.g. province IN ('浙江', '上海')",
                    self._offset(value),
                )

    def _check_cast(self, node: exp.Cast, depth: int) -> None:
        to = node.args.get("to")
        type_name = CAST_TYPES.get(to.this) if isinstance(to, exp.DataType) else None
        nested = isinstance(to, exp.DataType) and (
            to.args.get("nested") or any(not _is_numeric_param(p) for p in to.expressions)
        )
        if type_name is None or nested:
            written = to.sql(dialect=READ_DIALECT) if isinstance(to, exp.Expression) else to
            raise SqlFilterError(
                f"cannot CAST to {written}; allowed types: {CAST_TYPE_NAMES}",
                self._offset(node, ("CAST", "TRY_CAST")),
            )
        for key, value in node.args.items():
            if key == "to" or value is None or isinstance(value, bool):
                continue
            if key != "this":
                raise SqlFilterError(
                    f"CAST ... {key.upper()} is not allowed", self._offset(node, ("CAST",))
                )
            self._check(value, depth + 1)

    def _check_interval(self, node: exp.Interval) -> None:
        value, unit = node.this, node.args.get("unit")
        problem = "INTERVAL needs a number and a unit, e.g. INTERVAL 30 DAY"
        offset = self._offset(node, ("INTERVAL",))
        if not isinstance(value, exp.Literal):
            raise SqlFilterError(problem, offset)
        text = str(value.this)
        if unit is None:
            parts = INTERVAL_PART_RE.findall(text) if INTERVAL_TEXT_RE.fullmatch(text) else []
            if not parts or any(p.lower() not in DATE_PART_ALIASES for p in parts):
                raise SqlFilterError(f"{problem} (units: {DATE_PART_NAMES})", offset)
            return
        if not INTERVAL_NUMBER_RE.fullmatch(text):
            raise SqlFilterError(problem, offset)
        self._check_unit(node, unit)

    def _check_unit(self, owner: exp.Expression, unit: exp.Expression) -> None:
        if isinstance(unit, (exp.Var, exp.Literal)):
            canonical = DATE_PART_ALIASES.get(str(unit.name).lower())
            if canonical is not None:
                # One spelling, so every engine understands it (plural units are not portable).
                unit.replace(exp.var(canonical.upper()))
                return
        written = unit.name if isinstance(unit, (exp.Var, exp.Literal)) else unit.sql()
        offset = self._offset(unit)
        if offset is None:
            # sqlglot turns date_diff's first argument into a position-less Var; find the
            # argument's own token after the function name.
            after = self._offset(owner) or 0
            offset = next(
                (
                    t.start
                    for t in self.tokens
                    if t.start >= after and t.text.lower() == written.lower()
                ),
                after,
            )
        raise SqlFilterError(
            f"unknown date part {written.lower()!r}; use one of: {DATE_PART_NAMES} "
            "(in quotes for date_diff/date_trunc, e.g. date_diff('day', registered_at, as_of))",
            offset,
        )

    def _reject(self, node: exp.Expression) -> None:
        if isinstance(node, SUBQUERY_CLASSES):
            keywords = ("EXISTS",) if isinstance(node, exp.Exists) else ("SELECT", "FROM")
            raise SqlFilterError(
                "subqueries are not allowed: a filter is a condition on the customer's own columns",
                self._offset(node, keywords),
            )
        if isinstance(node, exp.Window):
            raise SqlFilterError(
                f"window functions ({self._name(node.this)} ... OVER) are not allowed: a filter "
                "is evaluated on one customer row at a time",
                self._offset(node),
            )
        if isinstance(node, exp.AggFunc):
            raise SqlFilterError(
                f"aggregate function {self._name(node)} is not allowed: a filter is evaluated "
                "on one customer row at a time (aggregates belong in the segment's metrics)",
                self._offset(node),
            )
        if isinstance(node, exp.Func) and not isinstance(node, exp.Binary):
            self._reject_function(node)  # Binary: operators such as COLLATE, not calls
        if isinstance(node, (exp.Star, *node_classes("Columns", "PositionalColumn"))):
            raise SqlFilterError(
                "'*', COLUMNS(...) and #n are not allowed: name the column",
                self._offset(node, ("*", "COLUMNS")),
            )
        if isinstance(node, node_classes("Dot", "Bracket")):
            raise SqlFilterError(
                "qualified names, struct fields and [ ] are not allowed: write the bare column "
                "name",
                self._offset(node),
            )
        if isinstance(node, PARAMETER_CLASSES):
            raise SqlFilterError(
                "parameters (?, $1, $name) are not allowed: write the value itself",
                self._offset(node, ("?", "$")),
            )
        if isinstance(node, exp.Alias):
            alias = node.args.get("alias")
            word = alias.name if isinstance(alias, exp.Identifier) else "AS"
            raise SqlFilterError(
                f"unexpected {word!r} after a value: aliases are not allowed (and numbers are "
                "written in decimal)",
                self._offset(alias) if alias is not None else self._offset(node, ("AS",)),
            )
        if isinstance(node, STATEMENT_CLASSES):
            raise SqlFilterError(
                f"SQL statements are not allowed; write only a condition {CONDITION_HINT}",
                self._offset(node),
            )
        snippet = _snippet(node)
        raise SqlFilterError(
            f"{snippet} is not allowed in a filter; use {ALLOWED_SYNTAX}", self._offset(node)
        )

    def _reject_function(self, node: exp.Func) -> None:
        if isinstance(node, CLOCK_CLASSES):
            keywords: tuple[str, ...] = tuple(sorted(CLOCK_NAMES))
        elif _meta_start(node) is None:
            keywords = (node.sql_name(),)  # e.g. EXTRACT(... FROM ...) keeps no position
        else:
            keywords = ()
        written = self._name(node, keywords)
        name = written.lower()
        if isinstance(node, CLOCK_CLASSES) or name in CLOCK_NAMES:
            raise SqlFilterError(
                f"{written} is not allowed: a build must give the same result for the same "
                "as-of date, so use the as_of column instead "
                "(e.g. registered_at >= as_of - INTERVAL 30 DAY)",
                self._offset(node, keywords),
            )
        if (
            isinstance(node, SYSTEM_CLASSES)
            or name in SYSTEM_NAMES
            or name.startswith(SYSTEM_PREFIXES)
        ):
            raise SqlFilterError(
                f"function {written} is not allowed: filters cannot read files, the network, "
                "settings or the environment",
                self._offset(node, keywords),
            )
        raise SqlFilterError(
            f"function {written} is not allowed; allowed functions: "
            + ", ".join(sorted(ALLOWED_FUNCTIONS)),
            self._offset(node, keywords),
        )

    # -- typing ------------------------------------------------------------------------

    def _is_boolean(self, node: exp.Expression | None) -> bool:
        """Whether a (checked) expression yields true/false, so WHERE means what it says."""
        if isinstance(node, exp.Paren):
            return self._is_boolean(node.this)
        if isinstance(node, (*CONDITION_NODES, exp.Boolean, *BOOLEAN_FUNCTION_CLASSES)):
            return True
        if isinstance(node, exp.Anonymous):
            return str(node.name).lower() in BOOLEAN_FUNCTION_NAMES
        if isinstance(node, exp.Column):
            declared = self.types.get(node.name, "").strip().upper()
            return declared in ("BOOLEAN", "BOOL", "LOGICAL")
        if isinstance(node, exp.Cast):
            to = node.args.get("to")
            return isinstance(to, exp.DataType) and to.this == exp.DataType.Type.BOOLEAN
        if isinstance(node, exp.Case):
            branches = [i.args.get("true") for i in node.args.get("ifs") or []]
            return self._all_boolean([*branches, node.args.get("default")])
        if isinstance(node, exp.If):
            return self._all_boolean([node.args.get("true"), node.args.get("false")])
        if isinstance(node, exp.Coalesce):
            return self._all_boolean([node.this, *node.expressions])
        if isinstance(node, exp.Nullif):
            return self._is_boolean(node.this)
        return False

    def _all_boolean(self, values: list[exp.Expression | None]) -> bool:
        present = [v for v in values if v is not None and not isinstance(v, exp.Null)]
        return bool(present) and all(self._is_boolean(v) for v in present)


@functools.cache
def _statement_tokens() -> frozenset[TokenType]:
    # What makes sqlglot parse a statement (or fall back to an opaque Command) instead of an
    # expression; refusing these up front gives one clear message and no parser warnings.
    dialect = Dialect.get_or_raise(READ_DIALECT)
    return frozenset(
        set(dialect.parser_class.STATEMENT_PARSERS)
        | set(dialect.tokenizer_class.COMMANDS)
        | {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.VALUES}
    )


# A plain value of each column type, for the trial run of `_bind_check`.
SAMPLE_VALUES = {"VARCHAR": "'a'", "INTEGER": "2", "BIGINT": "2", "DOUBLE": "2.5",
                 "BOOLEAN": "false", "DATE": "DATE '2026-01-15'",
                 "TIMESTAMP": "TIMESTAMP '2026-01-15 12:00:00'"}


@functools.lru_cache(maxsize=1)
def _trial_connection():
    """One in-memory DuckDB connection for every trial run (opening one costs ~15 ms, a
    trial ~1 ms: thousands of segments). It holds no table; the trials only SELECT."""
    import duckdb

    return duckdb.connect()


def _sample(sql_type: str) -> str:
    return SAMPLE_VALUES.get(sql_type, "2.5" if sql_type.startswith("DECIMAL") else "NULL")


def _meta_start(node: exp.Expression) -> int | None:
    start = node.meta.get("start")
    return start if isinstance(start, int) else None


def _is_string(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _is_numeric_param(node: exp.Expression) -> bool:
    inner = node.this if isinstance(node, exp.DataTypeParam) else node
    return isinstance(inner, exp.Literal) and not inner.is_string


def _is_constant(node: exp.Expression | None) -> bool:
    if isinstance(node, (exp.Literal, exp.Boolean, exp.Null)):
        return True
    if isinstance(node, (exp.Neg, exp.Not, exp.Paren, exp.Cast)):
        return _is_constant(node.this)
    return False


def _snippet(node: exp.Expression) -> str:
    """The node as SQL, with the quotes we added to plain names taken off again."""
    try:
        tree = node.copy()
        for identifier in tree.find_all(exp.Identifier):
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", identifier.name):
                identifier.set("quoted", False)
        text = tree.sql(dialect=READ_DIALECT, comments=False)
    except Exception:  # noqa: BLE001 - only used for a message
        text = node.key.upper()
    return repr(text if len(text) <= 40 else text[:37] + "...")
