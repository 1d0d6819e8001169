import pytest

from aigve.aspects import ASPECT_KEYS, ASPECTS, RELEASED_KEYS, canonical_key, get_aspect, is_valid_score, output_key
from aigve.errors import UnknownNameError


def test_nine_canonical_keys_in_order():
    assert ASPECT_KEYS == ("technical_quality", "dynamic", "consistency", "physics", "element_presence",
                           "element_quality", "action_presence", "action_quality", "overall")
    assert len({a.label for a in ASPECTS}) == 9


def test_released_spellings_map_both_ways():
    assert "element_presentence" in RELEASED_KEYS and "action_presentence" in RELEASED_KEYS
    assert canonical_key("element_presentence") == "element_presence"
    assert canonical_key("action_presentence") == "action_presence"
    assert output_key("element_presence", released=True) == "element_presentence"
    assert output_key("element_presentence", released=False) == "element_presence"


@pytest.mark.parametrize("raw,key", [
    ("Technical Quality", "technical_quality"), ("technical-quality", "technical_quality"),
    ("TechnicalQuality", "technical_quality"), ("DYNAMIC", "dynamic"), ("dynamic_degree", "dynamic"),
    (" Overall ", "overall"), ("Action Presence", "action_presence"), ("physics", "physics"),
])
def test_aliases_and_casing(raw, key):
    assert canonical_key(raw) == key


def test_fuzzy_only_when_asked():
    assert canonical_key("techincal_quality") is None
    assert canonical_key("techincal_quality", fuzzy=True) == "technical_quality"
    assert canonical_key("banana", fuzzy=True) is None


def test_unknown_aspect_lists_known_and_suggests():
    with pytest.raises(UnknownNameError) as err:
        get_aspect("consistancy_x")
    assert "overall" in str(err.value)


def test_prompt_dependence_and_zero_convention():
    needs = {a.key for a in ASPECTS if a.needs_prompt}
    assert {"element_presence", "action_presence", "overall"} <= needs
    assert "technical_quality" not in needs
    assert {a.key for a in ASPECTS if a.zero_means_absent} == {"action_presence", "action_quality"}


def test_is_valid_score():
    assert is_valid_score(0) and is_valid_score(5)
    assert not is_valid_score(6) and not is_valid_score(-1) and not is_valid_score(True) and not is_valid_score(3.0)
