"""`mpa-testbed agent NODE CMD key=value ...`: the words become the command's arguments."""
import pytest

from orchestrator.cli import agent_args


def test_values_are_json_when_they_parse_and_strings_otherwise():
    assert agent_args(["ctn=net-a", "buffering_period_ms=200", "timeout=5.5", "flag=true",
                       "none=null", "aps=[\"ap-a\"]", "ncoa=10.1.0.178"]) == {
        "ctn": "net-a", "buffering_period_ms": 200, "timeout": 5.5, "flag": True,
        "none": None, "aps": ["ap-a"], "ncoa": "10.1.0.178"}


def test_an_empty_value_and_equals_signs_in_values():
    assert agent_args(["a=", "b=x=y"]) == {"a": "", "b": "x=y"}


@pytest.mark.parametrize("bad", ["noequals", "=value", "1x=2", "a-b=1"])
def test_a_word_that_is_not_key_value_is_an_error(bad):
    with pytest.raises(ValueError, match="expected key=value"):
        agent_args([bad])
