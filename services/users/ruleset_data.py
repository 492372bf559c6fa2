"""InvenTree 264's role -> tables map (users/models.py RuleSet), with provenance.

Target: InvenTree API version 264 (commit 69bc5808, 2024-10-03; between 0.16.0 and 0.17.0).

Provenance
----------
Source: ``src/backend/InvenTree/users/models.py`` of inventree/InvenTree, class ``RuleSet``:
``RULESET_CHOICES``, ``get_ruleset_models()``, ``get_ruleset_ignore()`` and
``RULESET_CHANGE_INHERIT``.  The exact commit 69bc5808 was not available; the stored version
used is commit 8ff0ce49d975acb3393ed96da1b9e5f818221e3e, which already has the custom-state
table (PR #7862, API v246, 2024-08-21) and the importer tables (PR #6911, v211, 2024-06-26) in
the ignore list, and does not yet have selection lists (PR #8054, v286, 2024-11-26), data
output, user profile or allauth-MFA tables (all 0.18 / 2025).  It is therefore from master
between 2024-08-21 and 2024-09-22.

One change between that version and v264 is applied by hand:
- ``common_barcodescanresult`` (BarcodeScanResult, PR #8150, API v257, 2024-09-22) is added to
  the ``admin`` role right after ``plugin_notificationusersetting``.  InvenTree's own test
  (users/tests.py ``test_model_names``) requires every table to be in a role or in the ignore
  list, so the table must be covered somewhere at v264; the ``admin`` role at this position is
  where every later InvenTree version (users/ruleset.py, "# Misc" block) has it.  The exact
  v264 placement was not seen in a stored file.

Another stored version (commit 002cd31e...) lists ``mfa_authenticator`` in ``admin`` but lacks
the importer/custom-state ignores: that is the allauth-MFA feature branch (migration
``0012_migrate_mfa_20240408``), merged only in 2025, so it is *not* used here.

Conditional entry: InvenTree appends ``sites_site`` to ``admin`` only when
``settings.SITE_MULTI`` is true; that is kept apart in ``RULESET_MODELS_SITE_MULTI``.

Tables are Django's ``<app_label>_<model>`` (model = lower-cased class name, never contains an
underscore; app labels may: ``otp_totp_totpdevice``, ``django_q_ormq``), so the model name is
the part after the *last* underscore, and the permission codename is ``<perm>_<model>`` in app
``<app_label>`` (InvenTree's ``split_model``).

``RULESET_CHANGE_INHERIT``: ``check_table_permission`` lets a user with *change* on role
``parent`` pass any permission check on table ``f"{parent}_{child}"`` (``part_partparameter``,
``part_bomitem``).  It is used only for checks, not when assigning Django permissions to a
group; both tables are in the ``part`` role anyway.
"""

# RuleSet.RULESET_CHOICES, in InvenTree's order: (name, English label)
RULESET_CHOICES = (
    ("admin", "Admin"),
    ("part_category", "Part Categories"),
    ("part", "Parts"),
    ("stocktake", "Stocktake"),
    ("stock_location", "Stock Locations"),
    ("stock", "Stock Items"),
    ("build", "Build Orders"),
    ("purchase_order", "Purchase Orders"),
    ("sales_order", "Sales Orders"),
    ("return_order", "Return Orders"),
)

RULESET_NAMES = tuple(name for name, _label in RULESET_CHOICES)

RULESET_PERMISSIONS = ("view", "add", "change", "delete")

RULE_OPTIONS = ("can_view", "can_add", "can_change", "can_delete")

# RuleSet.get_ruleset_models() (SITE_MULTI off); role order and table order as in the source
RULESET_MODELS = {
    "admin": (
        "auth_group",
        "auth_user",
        "auth_permission",
        "users_apitoken",
        "users_ruleset",
        "report_labeloutput",
        "report_labeltemplate",
        "report_reportasset",
        "report_reportoutput",
        "report_reportsnippet",
        "report_reporttemplate",
        "account_emailaddress",
        "account_emailconfirmation",
        "socialaccount_socialaccount",
        "socialaccount_socialapp",
        "socialaccount_socialtoken",
        "otp_totp_totpdevice",
        "otp_static_statictoken",
        "otp_static_staticdevice",
        "plugin_pluginconfig",
        "plugin_pluginsetting",
        "plugin_notificationusersetting",
        "common_barcodescanresult",  # PR #8150 (v257); see module docstring
        "common_newsfeedentry",
        "taggit_tag",
        "taggit_taggeditem",
        "flags_flagstate",
        "machine_machineconfig",
        "machine_machinesetting",
    ),
    "part_category": (
        "part_partcategory",
        "part_partcategoryparametertemplate",
        "part_partcategorystar",
    ),
    "part": (
        "part_part",
        "part_partpricing",
        "part_bomitem",
        "part_bomitemsubstitute",
        "part_partsellpricebreak",
        "part_partinternalpricebreak",
        "part_parttesttemplate",
        "part_partparametertemplate",
        "part_partparameter",
        "part_partrelated",
        "part_partstar",
        "part_partcategorystar",
        "company_supplierpart",
        "company_manufacturerpart",
        "company_manufacturerpartparameter",
    ),
    "stocktake": (
        "part_partstocktake",
        "part_partstocktakereport",
    ),
    "stock_location": (
        "stock_stocklocation",
        "stock_stocklocationtype",
    ),
    "stock": (
        "stock_stockitem",
        "stock_stockitemtracking",
        "stock_stockitemtestresult",
    ),
    "build": (
        "part_part",
        "part_partcategory",
        "part_bomitem",
        "part_bomitemsubstitute",
        "build_build",
        "build_builditem",
        "build_buildline",
        "stock_stockitem",
        "stock_stocklocation",
    ),
    "purchase_order": (
        "company_company",
        "company_contact",
        "company_address",
        "company_manufacturerpart",
        "company_manufacturerpartparameter",
        "company_supplierpart",
        "company_supplierpricebreak",
        "order_purchaseorder",
        "order_purchaseorderlineitem",
        "order_purchaseorderextraline",
    ),
    "sales_order": (
        "company_company",
        "company_contact",
        "company_address",
        "order_salesorder",
        "order_salesorderallocation",
        "order_salesorderlineitem",
        "order_salesorderextraline",
        "order_salesordershipment",
    ),
    "return_order": (
        "company_company",
        "company_contact",
        "company_address",
        "order_returnorder",
        "order_returnorderlineitem",
        "order_returnorderextraline",
    ),
}

# Appended to RULESET_MODELS["admin"] only when settings.SITE_MULTI is true
RULESET_MODELS_SITE_MULTI = ("sites_site",)

# RuleSet.get_ruleset_ignore(): tables any authenticated user may use without a role
RULESET_IGNORE = (
    # Core django models (not user configurable)
    "admin_logentry",
    "contenttypes_contenttype",
    # Models which currently do not require permissions
    "common_attachment",
    "common_colortheme",
    "common_customunit",
    "common_inventreesetting",
    "common_inventreeusersetting",
    "common_notificationentry",
    "common_notificationmessage",
    "common_notesimage",
    "common_projectcode",
    "common_webhookendpoint",
    "common_webhookmessage",
    "common_inventreecustomuserstatemodel",
    "users_owner",
    # Third-party tables
    "error_report_error",
    "exchange_rate",
    "exchange_exchangebackend",
    "user_sessions_session",
    # Django-q
    "django_q_ormq",
    "django_q_failure",
    "django_q_task",
    "django_q_schedule",
    "django_q_success",
    # Importing
    "importer_dataimportsession",
    "importer_dataimportcolumnmap",
    "importer_dataimportrow",
)

# RuleSet.RULESET_CHANGE_INHERIT: (parent role, child model); the table is f"{parent}_{child}"
RULESET_CHANGE_INHERIT = (("part", "partparameter"), ("part", "bomitem"))


def ruleset_models(site_multi: bool = False) -> dict:
    """get_ruleset_models(): role -> tuple of tables (``sites_site`` in admin if SITE_MULTI)."""
    models = dict(RULESET_MODELS)
    if site_multi:
        models["admin"] = models["admin"] + RULESET_MODELS_SITE_MULTI
    return models


def split_table(table: str) -> tuple:
    """``"otp_totp_totpdevice"`` -> ``("otp_totp", "totpdevice")`` (app_label, model)."""
    app_label, _sep, model = table.rpartition("_")
    return app_label, model


def permission_string(table: str, permission: str) -> str:
    """RuleSet.get_model_permission_string: ``("part_part", "view")`` -> ``"part.view_part"``."""
    app_label, model = split_table(table)
    return f"{app_label}.{permission}_{model}"


def roles_for_table(table: str, site_multi: bool = False) -> tuple:
    """Roles (in RULESET_NAMES order) whose table list contains ``table``."""
    models = ruleset_models(site_multi)
    return tuple(role for role in RULESET_NAMES if table in models[role])
