"""The config-file key of an environment variable, as `config_key` in `/api/admin/config/`.

InvenTree reads each setting from an environment variable or from a key of its YAML config
file: `INVENTREE_DEBUG` or `debug`, `INVENTREE_EMAIL_HOST` or `email.host`. The rule is the
variable without `INVENTREE_`, lower-cased, with the file's sections (`email.`, `cache.`, ...)
as dotted prefixes; InvenTree 264's exceptions to it are listed below, verbatim. Settings of
our own follow the same rule (`AMQP_URI` -> `amqp_uri`, `INVENTREE_EMAIL_TIMEOUT` ->
`email.timeout`).
"""

PREFIX = "INVENTREE_"

# Sections of InvenTree's config file whose variables are `INVENTREE_<SECTION>_<NAME>`.
SECTIONS = ("background", "cache", "cookie", "cors", "email", "ldap", "tracing")

# InvenTree 264's keys that the rule does not give (`None`: no key in the config file).
EXCEPTIONS = {
    "INVENTREE_DOCKER": None,
    "TEST_TRANSLATIONS": None,
    "INVENTREE_PLUGIN_TESTING": "PLUGIN_TESTING",
    "INVENTREE_PLUGIN_TESTING_SETUP": "PLUGIN_TESTING_SETUP",
    "INVENTREE_PLUGIN_RETRY": "PLUGIN_RETRY",
    "INVENTREE_REMOTE_LOGIN": "remote_login_enabled",
    "INVENTREE_LOGIN_DEFAULT_HTTP_PROTOCOL": "login_default_protocol",
    "INVENTREE_SESSION_COOKIE_SECURE": "cookie.secure",
    "INVENTREE_CORS_ORIGIN_ALLOW_ALL": "cors.allow_all",
    "INVENTREE_CORS_ORIGIN_WHITELIST": "cors.whitelist",
    "INVENTREE_CORS_ORIGIN_REGEX": "cors.regex",
    "INVENTREE_CUSTOM_LOGO": "customize.logo",
    "INVENTREE_CUSTOM_SPLASH": "customize.splash",
}


def config_key(env_var: str) -> str | None:
    if env_var in EXCEPTIONS:
        return EXCEPTIONS[env_var]
    if not env_var.startswith(PREFIX):
        return env_var.lower()
    name = env_var[len(PREFIX):].lower()
    section, _, rest = name.partition("_")
    return f"{section}.{rest}" if section in SECTIONS and rest else name
