"""Scenario validation: messages name the field and say what is expected."""

import json

import pytest
from helpers import host, scenario, workload

import vsim
from vsim.spec.overrides import apply_overrides
from vsim.spec.scenario import parse_scenario, scenario_schema


def problems(data):
    with pytest.raises(vsim.ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def test_negative_memory_names_the_field():
    p = problems({"hosts": [host(memory_gib=-1)]})
    assert p == ["hosts[0].memory_gib: must be greater than 0"]


def test_unknown_key_suggests_the_right_one():
    w = workload()
    w["platfrom"] = w.pop("platform")
    p = problems({"hosts": [host()], "workloads": [w]})
    assert "workloads[0].platfrom: unknown field; did you mean 'platform'?" in p


def test_unknown_platform_lists_suggestion():
    p = problems({"hosts": [host(platforms=["kvn"])]})
    assert p[0].startswith("hosts[0].platforms[0]: unknown platform 'kvn'; did you mean 'kvm'?")


def test_arrival_type_is_checked():
    w = workload(arrivals={"type": "burst", "count": 3})
    p = problems({"hosts": [host()], "workloads": [w]})
    assert p[0].startswith("workloads[0].arrivals: 'type' must be one of")


def test_poisson_rate_must_be_positive_and_path_skips_tag():
    w = workload(arrivals={"type": "poisson", "rate_per_s": 0, "count": 3})
    p = problems({"hosts": [host()], "workloads": [w]})
    assert p == ["workloads[0].arrivals.rate_per_s: must be greater than 0"]


def test_image_references_and_kinds():
    p = problems({"hosts": [host()], "workloads": [workload(image="nope")]})
    assert p == ["workloads[0].image: no image named 'nope'"]
    p = problems({"hosts": [host()], "images": [{"name": "app", "kind": "container",
                                                   "layers": [{"id": "l", "size_mb": 1}]}],
                  "workloads": [workload(platform="kvm", image="app")]})
    assert p == ["workloads[0].image: kvm needs a vm-disk image, 'app' is a container image"]


def test_platform_not_installed_anywhere():
    p = problems({"hosts": [host(platforms=["docker"])], "workloads": [workload(platform="kvm")]})
    assert p == ["workloads[0].platform: no host runs 'kvm'; add it to a host's platforms"]


def test_several_problems_one_line_each():
    p = problems({"hosts": [host(memory_gib=0, cores=-2)]})
    assert len(p) == 2
    assert all(line.startswith("hosts[0].") for line in p)


def test_duplicate_names():
    p = problems({"hosts": [host(name="a"), host(name="a")]})
    assert p == ["hosts[1].name: duplicate name 'a'; names must be unique"]


def test_scenario_is_immutable():
    sc = scenario([workload()])
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        sc.seed = 5


def test_overrides_dotted_and_bracketed():
    data = {"hosts": [host()], "workloads": [workload()]}
    out = apply_overrides(data, ["hosts.0.memory_gib=32", "workloads[0].vcpus=2", "seed=9"])
    sc = parse_scenario(out)
    assert sc.hosts[0].memory_gib == 32 and sc.workloads[0].vcpus == 2 and sc.seed == 9
    assert data["hosts"][0]["memory_gib"] == 64  # the input is not modified
    with pytest.raises(vsim.ScenarioError, match="out of range"):
        apply_overrides(data, ["hosts.3.memory_gib=1"])
    with pytest.raises(vsim.ScenarioError, match="expected dotted.path=value"):
        apply_overrides(data, ["hosts.0.memory_gib"])


def test_schema_is_json_and_knows_fields():
    schema = scenario_schema()
    text = json.dumps(schema)
    assert "memory_gib" in text and "read_mb_s" in text
    assert schema["title"] == "vsim scenario"


def test_custom_profile_derived_from_builtin():
    prof = {"name": "fast-kvm", "base": "kvm",
            "guest_memory_overhead_mib": {"value": 60, "assumption": "a slimmer device model"}}
    sc = scenario([workload(platform="fast-kvm")], hosts=[host(platforms=["fast-kvm"])], profiles=[prof])
    assert sc.profile("fast-kvm").guest_memory_overhead_mib.value == 60
    assert sc.profile("fast-kvm").overhead == vsim.load_profile("kvm").overhead


def test_quantity_override_without_provenance_is_refused():
    prof = {"name": "x", "base": "kvm", "guest_memory_overhead_mib": {"value": 60}}
    p = problems({"hosts": [host(platforms=["x"])], "profiles": [prof]})
    assert any(line.startswith("profiles[0].guest_memory_overhead_mib") and "source" in line for line in p)


def test_moved_names_still_import_from_scenario():
    """YAML reading, messages and overrides have their own modules; the old
    import path ``vsim.spec.scenario`` keeps working for each of them."""
    from vsim.spec import messages, overrides, scenario, yamlio

    for mod, names in ((yamlio, ["read_yaml", "parse_yaml_text"]),
                       (messages, ["format_validation_error"]),
                       (overrides, ["apply_overrides", "split_path", "set_path"])):
        for name in names:
            assert getattr(scenario, name) is getattr(mod, name)
            assert name in scenario.__all__
