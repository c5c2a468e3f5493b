"""Message templates: found next to the plan, checked by `validate`, rendered set-based.

Files. An activity says `template: review_reward`; its channel's message parts come from
`plans/templates/review_reward.<channel>.<part>.j2`, and a single-part channel's part
also from `review_reward.<channel>.j2` (an SMS: `review_reward.sms.j2`). Parts a
channel declares with an `option` (the email subject and preheader) may instead be
given as one-line templates in `channel_options`, which win over a file.

Language. Jinja2 in a sandboxed environment, StrictUndefined (a misspelt variable is an
error, never an empty string), `trim_blocks`/`lstrip_blocks` (a line holding only a tag
leaves no blank line), autoescape for HTML parts, None rendered as an empty string.
The variables (`VARIABLES`, documented in docs/plugins.md): customer (id, name, nick,
gender, province, city_tier, birthday), stage (id, name), customer_type, tier (id,
name, discount; all None below every tier), purchases, spend,
days_since_last_purchase, r, f, m, next_tier (id, name, discount, min_spend),
coupon (the activity's), shop (name, currency),
activity (id, name), as_of. Filter `zhe`: 0.95 -> 95折. Templates may not include,
extend or import other templates (the analysis below needs to see every variable use).

Checks (validate). A syntax error, an undefined variable or field (found statically in
every branch, and by rendering), a template assigning a variable's name, and a message
longer than the channel allows for the longest plausible values: each a diagnostic at
the template file's line.

Modules: `variables`, `environment`, `analysis`, `loading`, `checking` (validate) and
`rendering` (build); each says what it does.
May import: `crmspec.plugins`, `crmspec.channels`, `crmspec.plan`, `crmspec.core`.
"""

from crmspec.templates.analysis import analyse
from crmspec.templates.checking import check_templates
from crmspec.templates.environment import TemplateEnvironment, make_environment, zhe
from crmspec.templates.loading import ActivityTemplates, load_templates
from crmspec.templates.rendering import RenderPlan, create_rows
from crmspec.templates.variables import variables_doc

__all__ = ["ActivityTemplates", "RenderPlan", "TemplateEnvironment", "analyse",
           "check_templates", "create_rows", "load_templates", "make_environment",
           "variables_doc", "zhe"]
