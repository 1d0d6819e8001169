import pytest

from aigve.config import GenerationConfig, SamplingConfig
from aigve.errors import ConfigError


def test_defaults_are_valid_and_round_trip():
    cfg = SamplingConfig()
    assert cfg.fps == 1.0 and cfg.strategy == "uniform"
    assert SamplingConfig.from_dict(cfg.to_dict()) == cfg
    assert GenerationConfig().do_sample is False


@pytest.mark.parametrize("field,value,fragment", [
    ("fps", 0, "(0, 1000]"), ("fps", -1.0, "(0, 1000]"), ("min_frames", 0, "integer"),
    ("max_visual_tokens", 0, "integer"), ("strategy", "random", "uniform"), ("jitter", 1.5, "[0, 1)"),
    ("min_pixels", 10, "patch_factor"), ("max_visual_tokens", 2.5, "integer"),
    ("fps", float("inf"), "finite"), ("fps", float("nan"), "finite"), ("fps", 1e308, "(0, 1000]"),
    ("assumed_fps", float("inf"), "finite"), ("max_frames", 10**13, "absurd"), ("seed", -1, ">= 0"),
])
def test_bad_values_name_field_value_and_fix(field, value, fragment):
    with pytest.raises(ConfigError) as err:
        SamplingConfig(**{field: value})
    msg = str(err.value)
    assert field in msg and repr(value) in msg and fragment in msg


def test_min_greater_than_max_is_rejected():
    with pytest.raises(ConfigError, match="min_frames"):
        SamplingConfig(min_frames=10, max_frames=4)
    with pytest.raises(ConfigError, match="min_pixels"):
        SamplingConfig(min_pixels=10000, max_pixels=1000)


def test_unknown_field_suggests_close_name():
    with pytest.raises(ConfigError, match="did you mean 'max_frames'"):
        SamplingConfig.from_dict({"max_frame": 8})


def test_generation_config_validation():
    with pytest.raises(ConfigError, match="force_new_tokens"):
        GenerationConfig(force_new_tokens=0)
    with pytest.raises(ConfigError, match="top_p"):
        GenerationConfig(top_p=1.5)
