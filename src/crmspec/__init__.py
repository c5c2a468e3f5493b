"""crmspec: repeat-purchase CRM plans as code.

The data flow is visible in the module names:
load -> validate -> model -> compile -> run -> channels -> outputs -> site.
"""

__version__ = "0.1.0"
