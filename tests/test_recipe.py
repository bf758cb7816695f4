"""Recipes load, validate, and fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import load_recipe, parse_recipe
from vidcurate.io.runfolder import RunFolder

REPO = Path(__file__).resolve().parents[1]


def test_default_recipe_loads() -> None:
    r = load_recipe(REPO / "recipes" / "default.yaml")
    assert [s.name for s in r.stages][:2] == ["probe", "filter"]
    assert r.stages[1].config.drop_errors is True
    assert RunFolder.stage_dirname(r.stages[0].index, r.stages[0].name) == "01-probe"


def test_forms_of_a_stage_entry() -> None:
    r = parse_recipe({"stages": ["probe", {"filter": {"fmin": 10}}, {"filter": None}]})
    assert [s.name for s in r.stages] == ["probe", "filter", "filter"]
    assert r.stages[1].config.fmin == 10 and r.stages[2].config.fmin is None
    assert [RunFolder.stage_dirname(s.index, s.name) for s in r.stages] == ["01-probe", "02-filter", "03-filter"]


def one_line(data: object) -> str:
    with pytest.raises(ConfigError) as e:
        parse_recipe(data, source="r.yaml")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_stage_suggests() -> None:
    msg = one_line({"stages": ["probe", {"fliter": {}}]})
    assert msg.startswith("r.yaml: stage 2")
    assert "unknown stage 'fliter'" in msg and "did you mean 'filter'" in msg


def test_unknown_key_lists_allowed() -> None:
    msg = one_line({"stages": [{"filter": {"fminn": 3}}]})
    assert "stage 1 'filter'" in msg and "unknown key 'fminn'" in msg
    assert "allowed:" in msg and "fmin" in msg and "drop_errors" in msg


def test_wrong_type_names_key_and_value() -> None:
    msg = one_line({"stages": [{"probe": {"decode_check": "sometimes"}}]})
    assert "key 'decode_check'" in msg and "'sometimes'" in msg


def test_structure_errors() -> None:
    assert "non-empty list" in one_line({"stages": []})
    assert "unknown top-level key 'stage'" in one_line({"stage": ["probe"]})
    assert "'- name: {params}'" in one_line({"stages": [{"probe": {}, "filter": {}}]})
    assert "engine" in one_line({"stages": ["probe"], "engine": {"threads": 3}})


def test_bad_yaml_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("stages:\n  - probe: {decode_check: ends\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(p)
    with pytest.raises(ConfigError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")


def test_fingerprint_tracks_config_and_upstream() -> None:
    a = parse_recipe({"stages": [{"filter": {"fmin": 1}}]}).stages[0]
    b = parse_recipe({"stages": [{"filter": {"fmin": 2}}]}).stages[0]
    assert a.fingerprint("x") != b.fingerprint("x")
    assert a.fingerprint("x") != a.fingerprint("y")
    assert a.fingerprint("x") == parse_recipe({"stages": [{"filter": {"fmin": 1}}]}).stages[0].fingerprint("x")
