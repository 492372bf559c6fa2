"""Batch-code templates (sandboxed, capped) and serial-number increments."""
import datetime
import time

import pytest

from services.system.generators import increment_serial, next_serials, render_batch_code
from svckit.errors import ValidationFailed

NOW = datetime.datetime(2024, 10, 3, 14, 5, tzinfo=datetime.timezone.utc)


def refused(template, context=None):
    with pytest.raises(ValidationFailed) as info:
        render_batch_code(template, context)
    assert list(info.value.detail) == ["template"]
    return info.value.detail["template"][0]


def test_default_template_is_empty():
    assert render_batch_code("") == ""
    assert render_batch_code(None) == ""


def test_inventree_item_template():
    template = "{% if item %}{{ item.pk }}{% endif %}"
    assert render_batch_code(template) == ""
    assert render_batch_code(template, {"item": {"pk": 1}}) == "1"


def test_date_context():
    template = "{{ year }}-{{ month }}-{{ day }} {{ hour }}:{{ minute }} W{{ '%02d' % week }} " \
               "{{ date.strftime('%Y%m%d') }}"
    assert render_batch_code(template, now=NOW) == "2024-10-3 14:5 W40 20241003"


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ x['__class__'] }}",
    "{{ x|attr('_' ~ '_class__') }}",
    "{{ x[('_' ~ '_class__')] }}",
])
def test_sandbox_escapes_refused(template):
    assert refused(template, {"x": "a"}).startswith("Template refused")


@pytest.mark.parametrize("template", [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    "{% for i in range(500) %}xxxxx{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ 99 ** 99999 }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{% set a = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% set b = a~a~a~a~a~a %}"
    "{% set c = b~b~b~b~b~b %}{{ c }}",
    "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
    "{% for i in [1] recursive %}{{ loop([1]) }}{% endfor %}",
])
def test_runaway_templates_refused_fast(template):
    start = time.perf_counter()
    refused(template)
    assert time.perf_counter() - start < 0.5


def test_syntax_error_refused():
    assert refused("{% if %}").startswith("Template syntax error")
    assert refused("{{ item.pk ").startswith("Template syntax error")


def test_render_errors_refused():
    assert refused("{{ item.pk }}").startswith("Template rendering failed")
    assert refused("{{ 1 / 0 }}").startswith("Template rendering failed")


def test_small_loops_allowed():
    assert render_batch_code("{% for i in range(3) %}{{ i }}{% endfor %}") == "012"


@pytest.mark.parametrize("value,expected", [
    (None, "1"), ("", "1"), ("1", "2"), ("001", "002"), ("AB01", "AB02"), ("9", "10"),
    ("AB99", "AB100"), (" 7 ", "8"), ("QQQ", "QQQ"), (41, "42"),
])
def test_increment_serial(value, expected):
    assert increment_serial(value) == expected


def test_next_serials():
    assert next_serials(None, 3) == ["1", "2", "3"]
    assert next_serials("AB09", "2") == ["AB10", "AB11"]
    assert next_serials("5", 1) == ["6"]
    assert next_serials("QQQ", 5) == []  # increment gives the same value: stop, no duplicates
    assert len(next_serials("0", 1000)) == 1000


@pytest.mark.parametrize("quantity", ["x", "1.5", 1.5, True, [], "", {}])
def test_next_serials_invalid_quantity(quantity):
    with pytest.raises(ValidationFailed) as info:
        next_serials("1", quantity)
    assert info.value.detail == {"quantity": ["A valid integer is required."]}


@pytest.mark.parametrize("quantity", [0, -1, "0"])
def test_next_serials_quantity_must_be_positive(quantity):
    with pytest.raises(ValidationFailed) as info:
        next_serials("1", quantity)
    assert info.value.detail == {"quantity": ["Quantity must be greater than zero"]}


def test_next_serials_quantity_cap():
    with pytest.raises(ValidationFailed) as info:
        next_serials("1", 1001)
    assert info.value.detail == {"quantity": ["Cannot serialize more than 1000 items at once"]}
