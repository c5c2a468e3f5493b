"""A test plugin contributing a page outside the site."""

from crmspec import hookimpl


@hookimpl
def register_site_pages(plan, manifest):
    return [("../escape.md", "# no")]
