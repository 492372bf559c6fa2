"""svckit.plugins.load_plugin: a `package.module:Name` spec, and what each bad one says."""
import json

import pytest

from svckit.plugins import PluginError, load_plugin


def test_a_good_spec_is_the_object_it_names():
    assert load_plugin("json:JSONDecoder", kind="decoder") is json.JSONDecoder
    assert load_plugin("json:JSONDecoder.decode", kind="method") is json.JSONDecoder.decode


@pytest.mark.parametrize("spec, message", [
    ("json.JSONDecoder", 'CURRENCY_PROVIDER=\'json.JSONDecoder\': not a currency provider; '
                         'expected "package.module:Name"'),
    ("json:", 'expected "package.module:Name"'),
    (":JSONDecoder", 'expected "package.module:Name"'),
    ("json:JSON Decoder", 'expected "package.module:Name"'),
    ("", 'expected "package.module:Name"'),
    ("no_such_package.rates:Provider",
     "CURRENCY_PROVIDER='no_such_package.rates:Provider': cannot import the currency "
     "provider's module 'no_such_package.rates'"),
    ("json:NoSuchProvider", "CURRENCY_PROVIDER='json:NoSuchProvider': module 'json' has no "
                            "currency provider 'NoSuchProvider'"),
])
def test_each_kind_of_bad_spec_says_what_and_which_setting(spec, message):
    with pytest.raises(PluginError) as info:
        load_plugin(spec, kind="currency provider", setting="CURRENCY_PROVIDER")
    assert message in str(info.value)
    assert str(info.value).startswith("CURRENCY_PROVIDER=")


def test_without_a_setting_the_spec_leads_the_message():
    with pytest.raises(PluginError, match=r"^'json:Nope': module 'json' has no news feed"):
        load_plugin("json:Nope", kind="news feed")
