"""The attachments service's role table agrees with InvenTree's RuleSet tables (kept by the
users service): a role grants `<perm>_<model>` exactly when its table list holds the model."""
from services.attachments.attachments import MODEL_TYPES
from services.users.ruleset_data import roles_for_table

TABLES = {"build": "build_build", "company": "company_company",
          "manufacturerpart": "company_manufacturerpart", "purchaseorder": "order_purchaseorder",
          "salesorder": "order_salesorder", "salesordershipment": "order_salesordershipment",
          "returnorder": "order_returnorder", "part": "part_part", "stockitem": "stock_stockitem"}


def test_roles_match_the_ruleset_tables():
    assert set(MODEL_TYPES) == set(TABLES)
    for model_type, (_label, roles) in MODEL_TYPES.items():
        assert set(roles) == set(roles_for_table(TABLES[model_type])), model_type
