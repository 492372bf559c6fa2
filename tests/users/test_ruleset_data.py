"""InvenTree 264's RuleSet data: roles, tables, ignore list, change inheritance."""
import re

import pytest

from services.status.contenttype_data import CONTENT_TYPES
from services.users import ruleset_data as rd

ROLES = ("admin", "part_category", "part", "stocktake", "stock_location", "stock", "build",
         "purchase_order", "sales_order", "return_order")

# Observed on a live v264 server: a group whose only rule is part=change yields permissions on
# exactly these models (name after the app label).
OBSERVED_PART_MODELS = {
    "manufacturerpart", "manufacturerpartparameter", "supplierpart", "bomitem",
    "bomitemsubstitute", "part", "partcategorystar", "partinternalpricebreak", "partparameter",
    "partparametertemplate", "partpricing", "partrelated", "partsellpricebreak", "partstar",
    "parttesttemplate",
}

TABLE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]_[a-z0-9]+$")
ALL_TABLES = {f"{app}_{model}" for app, model, *_ in CONTENT_TYPES}


def all_listed(site_multi=False):
    return [t for tables in rd.ruleset_models(site_multi).values() for t in tables]


def test_ten_roles_in_inventree_order():
    assert tuple(rd.RULESET_MODELS) == ROLES
    assert rd.RULESET_NAMES == ROLES
    assert tuple(name for name, _ in rd.RULESET_CHOICES) == ROLES
    assert dict(rd.RULESET_CHOICES)["part_category"] == "Part Categories"
    assert all(rd.RULESET_MODELS[r] for r in ROLES)


def test_tables_are_lower_case_app_model():
    for table in all_listed(site_multi=True) + list(rd.RULESET_IGNORE):
        assert TABLE.match(table), table
        assert table == table.lower()


def test_no_duplicates_within_a_role_or_ignore():
    for role, tables in rd.RULESET_MODELS.items():
        assert len(set(tables)) == len(tables), role
        assert isinstance(tables, tuple)
    assert len(set(rd.RULESET_IGNORE)) == len(rd.RULESET_IGNORE)
    assert not set(all_listed(site_multi=True)) & set(rd.RULESET_IGNORE)


def test_part_role_matches_live_server_exactly():
    part = rd.RULESET_MODELS["part"]
    assert "part_part" in part and "company_supplierpart" in part
    assert len(part) == 15
    assert {t.split("_", 1)[1] for t in part} == OBSERVED_PART_MODELS
    assert {rd.split_table(t)[1] for t in part} == OBSERVED_PART_MODELS
    assert {rd.split_table(t)[0] for t in part} == {"part", "company"}
    # change inheritance adds no table beyond the role itself
    inherited = {f"{parent}_{child}" for parent, child in rd.RULESET_CHANGE_INHERIT
                 if parent == "part"}
    assert inherited <= set(part)


def test_change_inherit_as_in_source():
    assert rd.RULESET_CHANGE_INHERIT == (("part", "partparameter"), ("part", "bomitem"))
    for parent, child in rd.RULESET_CHANGE_INHERIT:
        assert parent in rd.RULESET_NAMES
        assert f"{parent}_{child}" in ALL_TABLES


def test_small_roles():
    assert rd.RULESET_MODELS["part_category"] == (
        "part_partcategory", "part_partcategoryparametertemplate", "part_partcategorystar")
    assert rd.RULESET_MODELS["stocktake"] == ("part_partstocktake", "part_partstocktakereport")
    assert rd.RULESET_MODELS["stock_location"] == ("stock_stocklocation",
                                                   "stock_stocklocationtype")
    assert rd.RULESET_MODELS["stock"] == ("stock_stockitem", "stock_stockitemtracking",
                                          "stock_stockitemtestresult")
    assert rd.roles_for_table("company_company") == ("purchase_order", "sales_order",
                                                     "return_order")
    assert rd.roles_for_table("part_part") == ("part", "build")
    assert rd.roles_for_table("common_barcodescanresult") == ("admin",)


def test_every_v264_table_is_covered_like_inventree_test_model_names():
    """InvenTree's users/tests.py test_model_names against this repo's v264 content types.

    sites_site is covered only with SITE_MULTI (InvenTree appends it to admin then).
    """
    covered = set(all_listed(site_multi=True)) | set(rd.RULESET_IGNORE)
    assert ALL_TABLES - covered == set()
    assert covered - ALL_TABLES == set()
    assert ALL_TABLES - set(all_listed()) - set(rd.RULESET_IGNORE) == {"sites_site"}


def test_site_multi_adds_sites_site_to_admin_only():
    assert "sites_site" not in rd.RULESET_MODELS["admin"]
    with_sites = rd.ruleset_models(site_multi=True)
    assert with_sites["admin"][-1] == "sites_site"
    assert with_sites["admin"][:-1] == rd.RULESET_MODELS["admin"]
    assert "sites_site" not in rd.RULESET_MODELS["admin"]  # not mutated


@pytest.mark.parametrize("table, perm, expected", [
    ("part_part", "view", "part.view_part"),
    ("company_supplierpart", "change", "company.change_supplierpart"),
    ("otp_totp_totpdevice", "delete", "otp_totp.delete_totpdevice"),
    ("django_q_ormq", "add", "django_q.add_ormq"),
])
def test_permission_string(table, perm, expected):
    assert rd.permission_string(table, perm) == expected


def test_ignore_list():
    for table in ("admin_logentry", "contenttypes_contenttype", "users_owner",
                  "common_inventreesetting", "common_attachment", "user_sessions_session",
                  "common_inventreecustomuserstatemodel", "importer_dataimportrow"):
        assert table in rd.RULESET_IGNORE
    assert len(rd.RULESET_IGNORE) == 27
