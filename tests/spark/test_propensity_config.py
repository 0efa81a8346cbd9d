"""Product group YAML, cutoff planning, the promotion rule and date resolution (no Spark needed)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from scv.config import PROJECT_ROOT
from scv.propensity.config import PropensityConfigError, config_path, load_config, parse_config
from scv.propensity.dates import resolve_as_of_date

MINIMAL = {"groups": [{"name": "garden", "categories": ["Garden", "garden"]}]}


def test_the_shipped_product_groups_are_valid():
    config = load_config(config_path(PROJECT_ROOT / "include"))
    assert len(config.group_names) >= 2
    known = {"electronics", "home", "garden", "toys", "beauty", "grocery", "clothing", "sports"}
    for group in config.groups:
        assert set(group.categories) <= known, group
        assert group.horizon_days >= 7
    assert config.model_name("grocery") == "scv_propensity_grocery"
    assert config.training.promotion_margin >= 0


def test_defaults_and_group_overrides():
    raw = {
        "training": {"model": {"reg_param": 0.1}},
        "groups": [
            {"name": "garden", "categories": ["Garden", "garden"], "horizon_days": 60},
            {"name": "toys", "categories": ["toys"], "model": {"algorithm": "gbt"}},
        ],
    }
    config = parse_config(raw)
    garden, toys = config.groups
    assert garden.categories == ("garden",) and garden.horizon_days == 60
    assert config.model_spec("garden").reg_param == 0.1
    # A group's override applies key by key on top of the training default.
    assert config.model_spec("toys").algorithm == "gbt" and config.model_spec("toys").reg_param == 0.1
    assert config.features.windows_days == (30, 90, 365)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"groups": []}, "groups"),
        ({"groups": [{"name": "Bad-Name", "categories": ["x"]}]}, "groups[0].name"),
        ({"groups": [{"name": "a", "categories": []}]}, "a.categories"),
        ({"groups": [{"name": "a", "categories": ["x"], "horizon_days": 0}]}, "a.horizon_days"),
        ({"groups": [{"name": "a", "categories": ["x"]}, {"name": "a", "categories": ["y"]}]}, "groups"),
        ({"groups": [{"name": "a", "categories": ["x"], "colour": "red"}]}, "groups[0].colour"),
        ({"training": {"model": {"algorithm": "svm"}}}, "training.model.algorithm"),
        ({"training": {"promotion_margin": -1}}, "training.promotion_margin"),
        ({"features": {"windows_days": [0]}}, "features.windows_days"),
    ],
)
def test_invalid_files_name_the_key(tmp_path, change, key):
    path = tmp_path / "product_groups.yml"
    path.write_text(yaml.safe_dump({**MINIMAL, **change}))
    with pytest.raises(PropensityConfigError) as error:
        load_config(path)
    assert error.value.key == key and str(path) in str(error.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(PropensityConfigError, match="not found"):
        load_config(tmp_path / "nope.yml")


def test_cutoffs_keep_training_labels_before_the_holdout():
    from scv.propensity.dataset import plan_cutoffs

    cutoffs = plan_cutoffs(dt.date(2026, 11, 22), horizon_days=30, train_cutoffs=3, step_days=14)
    assert cutoffs.holdout == dt.date(2026, 10, 23)
    assert cutoffs.train == (dt.date(2026, 8, 26), dt.date(2026, 9, 9), dt.date(2026, 9, 23))
    # The latest training label window [c, c + 30d) ends exactly at the hold-out cutoff.
    assert max(cutoffs.train) + dt.timedelta(days=30) == cutoffs.holdout


def test_promotion_rule():
    from scv.propensity.training import decide_promotion

    assert decide_promotion(0.70, None, 0.01).promote
    better = decide_promotion(0.72, 0.70, 0.01, champion_version="3")
    assert better.promote and "beats champion v3" in better.reason
    close = decide_promotion(0.705, 0.70, 0.01, champion_version="3")
    assert not close.promote and "margin 0.0100" in close.reason and "challenger" in close.reason
    # An identical model (a rerun of the same week) never replaces the champion.
    assert not decide_promotion(0.70, 0.70, 0.0, champion_version="3").promote
    assert not decide_promotion(float("nan"), None, 0.0).promote
    assert decide_promotion(0.6, None, 0.0, champion_version="3", champion_problem="missing column x").promote


def test_as_of_date_resolution():
    assert resolve_as_of_date("2026-11-20", dt.datetime(2026, 11, 22, 3)) == "2026-11-20"
    assert resolve_as_of_date(None, dt.datetime(2026, 11, 22, 3)) == "2026-11-22"
    assert resolve_as_of_date("", None, [({}, dt.datetime(2026, 11, 20)), (None, dt.datetime(2026, 11, 21))]) == "2026-11-21"
    assert resolve_as_of_date(None, None, [({"as_of_date": "2026-11-19"}, dt.datetime(2026, 11, 21))]) == "2026-11-19"
    assert resolve_as_of_date("None", None, []) == ""
