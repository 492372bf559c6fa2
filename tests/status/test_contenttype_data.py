"""Sanity checks of the static content-type registry (services/status/contenttype_data.py)."""
from services.status.contenttype_data import CONTENT_TYPES, app_labeled_name


def test_rows_well_formed():
    for row in CONTENT_TYPES:
        assert len(row) == 4 and all(isinstance(v, str) and v for v in row)
        assert row[1] == row[1].lower()


def test_no_duplicate_pairs():
    pairs = [(app, model) for app, model, _, _ in CONTENT_TYPES]
    assert len(pairs) == len(set(pairs))


def test_key_models_present():
    pairs = {(app, model) for app, model, _, _ in CONTENT_TYPES}
    expected = {
        ("stock", "stockitem"), ("part", "part"), ("build", "build"),
        ("order", "purchaseorder"), ("order", "salesorder"), ("order", "returnorder"),
        ("common", "inventreecustomuserstatemodel"), ("common", "projectcode"),
        ("common", "customunit"), ("common", "attachment"),
        ("contenttypes", "contenttype"), ("auth", "user"), ("auth", "group"),
    }
    assert expected <= pairs


def test_count():
    # 99 content types on a fresh InvenTree 264 database (see module docstring);
    # the spec's "~100+" is an estimate.
    assert len(CONTENT_TYPES) >= 95


def test_app_labeled_name_uses_app_label():
    row = next(r for r in CONTENT_TYPES if r[:2] == ("stock", "stockitem"))
    assert app_labeled_name(row[0], row[3]) == "stock | Stock Item"
    assert row[3].title() == "Stock Item"
