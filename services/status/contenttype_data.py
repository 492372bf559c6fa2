"""Django content types of an InvenTree 264 server (commit 69bc5808, 2024-10-03, Django 4.2).

Provenance: INSTALLED_APPS of InvenTree's settings.py of that era (0.16/0.17-dev: label app gone,
importer present, user_sessions instead of django.contrib.sessions, allauth_2fa/dj_rest_auth/
crispy_forms/import_export/formtools without models); each InvenTree app's migrations and
models.py; third-party sources of Django 4.2.16, django-q2 1.6.2, django-allauth 0.63.6,
django-otp 1.5.4, django-money 3.5.3, django-taggit 6.1.0, django-flags 5.0.13,
django-user-sessions 2.0.0, django-error-report-2 0.4.2. Only apps with concrete or proxy models
appear (no abstract models; no auto-created m2m through tables).

Order = the pk order of a fresh `migrate`: post_migrate's create_contenttypes runs per app in
INSTALLED_APPS order, and within an app it iterates the *migration state* models, i.e. in the
order their CreateModel operations were applied (models deleted later, e.g. the legacy
*Attachment models removed in 0.16, leave no content type). pk = 1-based index in this tuple.

Each row: (app_label, model, app_verbose_name, model_verbose_name).
- app_verbose_name is the AppConfig.verbose_name (default app_label.title()).
- model_verbose_name is the raw Meta.verbose_name (English), else Django's default from the class
  name (camel case split into lower-case words).
NOTE: in Django 4.2 ContentType.app_labeled_name is
    "%s | %s" % (model._meta.app_label, model._meta.verbose_name)
i.e. it uses the app *label*, not the app verbose name (the 4.1.0 change to verbose_name was
reverted in 4.1.1): "stock | Stock Item", "auth | user". Use `app_labeled_name()` below.
"""

CONTENT_TYPES = (
    # (app_label, model, app_verbose_name, model_verbose_name)
    # django.contrib.admin
    ("admin", "logentry", "Administration", "log entry"),
    # build.apps.BuildConfig
    ("build", "build", "Build", "Build Order"),
    ("build", "builditem", "Build", "Build Item"),
    ("build", "buildline", "Build", "Build Order Line Item"),
    # common.apps.CommonConfig
    ("common", "inventreesetting", "Common", "InvenTree Setting"),
    ("common", "colortheme", "Common", "color theme"),
    ("common", "inventreeusersetting", "Common", "InvenTree User Setting"),
    ("common", "notificationentry", "Common", "notification entry"),
    ("common", "webhookendpoint", "Common", "webhook endpoint"),
    ("common", "webhookmessage", "Common", "webhook message"),
    ("common", "notificationmessage", "Common", "notification message"),
    ("common", "newsfeedentry", "Common", "news feed entry"),
    ("common", "notesimage", "Common", "notes image"),
    ("common", "projectcode", "Common", "Project Code"),
    ("common", "customunit", "Common", "Custom Unit"),
    ("common", "attachment", "Common", "Attachment"),
    ("common", "inventreecustomuserstatemodel", "Common", "Custom State"),
    ("common", "barcodescanresult", "Common", "Barcode Scan"),
    # company.apps.CompanyConfig
    ("company", "company", "Company", "Company"),
    ("company", "contact", "Company", "Contact"),
    ("company", "supplierpart", "Company", "Supplier Part"),
    ("company", "supplierpricebreak", "Company", "Supplier Price Break"),
    ("company", "manufacturerpart", "Company", "Manufacturer Part"),
    ("company", "manufacturerpartparameter", "Company", "Manufacturer Part Parameter"),
    ("company", "address", "Company", "Address"),
    # plugin.apps.PluginAppConfig
    ("plugin", "pluginconfig", "Plugin", "Plugin Configuration"),
    ("plugin", "pluginsetting", "Plugin", "plugin setting"),
    ("plugin", "notificationusersetting", "Plugin", "notification user setting"),
    # order.apps.OrderConfig
    ("order", "purchaseorder", "Order", "Purchase Order"),
    ("order", "purchaseorderlineitem", "Order", "Purchase Order Line Item"),
    ("order", "salesorder", "Order", "Sales Order"),
    ("order", "salesorderlineitem", "Order", "Sales Order Line Item"),
    ("order", "salesorderallocation", "Order", "Sales Order Allocation"),
    ("order", "salesordershipment", "Order", "Sales Order Shipment"),
    ("order", "purchaseorderextraline", "Order", "Purchase Order Extra Line"),
    ("order", "salesorderextraline", "Order", "Sales Order Extra Line"),
    ("order", "returnorder", "Order", "Return Order"),
    ("order", "returnorderlineitem", "Order", "Return Order Line Item"),
    ("order", "returnorderextraline", "Order", "Return Order Extra Line"),
    # part.apps.PartConfig
    ("part", "bomitem", "Part", "BOM Item"),
    ("part", "part", "Part", "Part"),
    ("part", "partcategory", "Part", "Part Category"),
    ("part", "partstar", "Part", "part star"),
    ("part", "partparameter", "Part", "Part Parameter"),
    ("part", "partparametertemplate", "Part", "Part Parameter Template"),
    ("part", "parttesttemplate", "Part", "Part Test Template"),
    ("part", "partsellpricebreak", "Part", "Part Sale Price Break"),
    ("part", "partrelated", "Part", "part related"),
    ("part", "partcategoryparametertemplate", "Part", "Part Category Parameter Template"),
    ("part", "partinternalpricebreak", "Part", "part internal price break"),
    ("part", "bomitemsubstitute", "Part", "BOM Item Substitute"),
    ("part", "partcategorystar", "Part", "part category star"),
    ("part", "partpricing", "Part", "part pricing"),
    ("part", "partstocktake", "Part", "part stocktake"),
    ("part", "partstocktakereport", "Part", "part stocktake report"),
    # report.apps.ReportConfig
    ("report", "reportsnippet", "Report", "report snippet"),
    ("report", "reportasset", "Report", "report asset"),
    ("report", "reporttemplate", "Report", "Report Template"),
    ("report", "labeltemplate", "Report", "Label Template"),
    ("report", "labeloutput", "Report", "label output"),
    ("report", "reportoutput", "Report", "report output"),
    # stock.apps.StockConfig
    ("stock", "stockitem", "Stock", "Stock Item"),
    ("stock", "stockitemtracking", "Stock", "Stock Item Tracking"),
    ("stock", "stocklocation", "Stock", "Stock Location"),
    ("stock", "stockitemtestresult", "Stock", "Stock Item Test Result"),
    ("stock", "stocklocationtype", "Stock", "Stock Location type"),
    # users.apps.UsersConfig
    ("users", "ruleset", "Users", "rule set"),
    ("users", "owner", "Users", "owner"),
    ("users", "apitoken", "Users", "API Token"),
    # machine.apps.MachineConfig
    ("machine", "machineconfig", "Machine", "machine config"),
    ("machine", "machinesetting", "Machine", "machine setting"),
    # importer.apps.ImporterConfig
    ("importer", "dataimportsession", "Importer", "data import session"),
    ("importer", "dataimportrow", "Importer", "data import row"),
    ("importer", "dataimportcolumnmap", "Importer", "data import column map"),
    # (web, generic, InvenTree: no models)
    # django.contrib.auth
    ("auth", "permission", "Authentication and Authorization", "permission"),
    ("auth", "group", "Authentication and Authorization", "group"),
    ("auth", "user", "Authentication and Authorization", "user"),
    # django.contrib.contenttypes
    ("contenttypes", "contenttype", "Content Types", "content type"),
    # user_sessions (django-user-sessions; no AppConfig of its own)
    ("user_sessions", "session", "User_Sessions", "session"),
    # django.contrib.sites
    ("sites", "site", "Sites", "site"),
    # djmoney.contrib.exchange (no AppConfig of its own)
    ("exchange", "exchangebackend", "Exchange", "exchange backend"),
    ("exchange", "rate", "Exchange", "rate"),
    # error_report (django-error-report-2)
    ("error_report", "error", "Error_Report", "Error"),
    # django_q (django-q2); Success and Failure are proxies of Task
    ("django_q", "schedule", "Django Q", "Scheduled task"),
    ("django_q", "task", "Django Q", "task"),
    ("django_q", "failure", "Django Q", "Failed task"),
    ("django_q", "success", "Django Q", "Successful task"),
    ("django_q", "ormq", "Django Q", "Queued task"),
    # taggit
    ("taggit", "tag", "Taggit", "tag"),
    ("taggit", "taggeditem", "Taggit", "tagged item"),
    # flags (django-flags)
    ("flags", "flagstate", "Django Flags", "flag state"),
    # allauth.account
    ("account", "emailaddress", "Accounts", "email address"),
    ("account", "emailconfirmation", "Accounts", "email confirmation"),
    # allauth.socialaccount
    ("socialaccount", "socialaccount", "Social Accounts", "social account"),
    ("socialaccount", "socialapp", "Social Accounts", "social application"),
    ("socialaccount", "socialtoken", "Social Accounts", "social application token"),
    # django_otp.plugins.otp_totp
    ("otp_totp", "totpdevice", "Otp_Totp", "TOTP device"),
    # django_otp.plugins.otp_static
    ("otp_static", "staticdevice", "Otp_Static", "static device"),
    ("otp_static", "statictoken", "Otp_Static", "static token"),
)


def app_labeled_name(app_label: str, model_verbose_name: str) -> str:
    """Django 4.2's ContentType.app_labeled_name ("stock | Stock Item")."""
    return f"{app_label} | {model_verbose_name}"
