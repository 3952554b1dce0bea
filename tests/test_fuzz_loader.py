"""Fuzzing the scenario loader: whatever the text, only ``ScenarioError``.

Hypothesis feeds the loader (``parse_yaml_text`` then ``parse_scenario``) with
arbitrary text, YAML-looking text built from scenario words and YAML tokens,
random nested mappings, and valid scenarios with one field replaced by
something random. The loader may accept the input or raise ``ScenarioError``;
any other exception (TypeError, KeyError, RecursionError...) is a bug. Over
1,000 examples run in every test session.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsim.spec.errors import ScenarioError
from vsim.spec.messages import _vocabulary
from vsim.spec.scenario import Scenario, parse_scenario
from vsim.spec.yamlio import parse_yaml_text

FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=False)

WORDS = sorted(_vocabulary() | {"type", "batch", "poisson", "times", "fixed", "exponential", "forever",
                                "kvm", "docker", "firecracker", "virtualbox", "vm-disk", "container",
                                "path", "base", "value", "source", "assumption", "sweep", "trace"})
TOKENS = ["", " ", "  ", "\t", "-", "- ", ":", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ",
          "!!python/object/apply:os.system ", "!Ref ", "|", ">", "'", '"', "#", "?", "<<: *a", "~",
          ".inf", "-.inf", ".nan", "yes", "no", "on", "null", "0", "-1", "1e400", "0x1F", "0o17",
          "2024-01-01", "1_000", "99999999999999999999999", "%YAML 1.1", "---", "...", "\\u0000", "\r"]


def load(text: str) -> None:
    """The whole loading path of a scenario file, from text."""
    try:
        parse_scenario(parse_yaml_text(text, "fuzz"), "fuzz")
    except ScenarioError as exc:
        assert str(exc) and exc.problems


def validate(data) -> None:
    try:
        parse_scenario(data, "fuzz")
    except ScenarioError as exc:
        assert str(exc) and exc.problems


@settings(max_examples=350, **FAST)
@given(st.text(max_size=300))
def test_any_text(text):
    load(text)


yaml_line = st.builds(
    lambda indent, key, sep, val: " " * indent + key + sep + val,
    st.integers(0, 8),
    st.sampled_from(WORDS + TOKENS),
    st.sampled_from([": ", ":", " ", ": - ", "- ", ": [", ": {"]),
    st.one_of(st.sampled_from(WORDS + TOKENS), st.integers().map(str),
              st.floats(allow_nan=True).map(repr), st.text(max_size=10)),
)


@settings(max_examples=350, **FAST)
@given(st.lists(yaml_line, max_size=25))
def test_yaml_looking_text(lines):
    load("\n".join(lines))


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from(WORDS), st.binary(max_size=8), st.dates())
values = st.recursive(
    scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.one_of(st.sampled_from(WORDS), scalars.filter(lambda x: x is None or isinstance(x, (bool, int, float, str)))),
                                           kids, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=200, **FAST)
@given(st.dictionaries(st.sampled_from(WORDS), values, max_size=8))
def test_random_mappings(data):
    validate(data)
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        return
    load(text)


VALID = {
    "name": "fuzz",
    "seed": 3,
    "hosts": [{"name": "h", "cores": 4, "memory_gib": 16, "platforms": ["kvm", "docker"],
               "disk": {"capacity_gib": 100}, "cached_images": ["app"]}],
    "images": [{"name": "disk", "kind": "vm-disk", "format": "qcow2", "size_mb": 500},
               {"name": "app", "kind": "container", "layers": [{"id": "l", "size_mb": 5, "unpacked_mb": 10}]}],
    "workloads": [
        {"name": "v", "platform": "kvm", "image": "disk", "clone": "linked",
         "arrivals": {"type": "poisson", "rate_per_s": 1, "count": 3},
         "lifetime": {"type": "exponential", "mean_s": 10}},
        {"name": "c", "platform": "docker", "image": "app",
         "arrivals": {"type": "times", "times_s": [0, 1]}, "lifetime": {"type": "fixed", "duration_s": 5}},
    ],
    "profiles": [{"name": "tuned", "base": "kvm"}],
}


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(VALID) if p]


def _replaced(base, changes):
    data = copy.deepcopy(base)
    for path, val in changes:
        node = data
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = val
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    return data




def test_the_valid_base_is_valid():
    assert isinstance(parse_scenario(copy.deepcopy(VALID)), Scenario)


@settings(max_examples=300, **FAST)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_valid_scenario_with_fields_replaced(changes):
    data = _replaced(VALID, changes)
    validate(data)
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        return
    load(text)


# -- plans and sweeps: the same, on their own files ------------------------------------------------

def _plan_base():
    from pathlib import Path

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "plan-web-tier.yaml").read_text())


PLAN = _plan_base()
PLAN_PATHS = [p for p in _paths(PLAN) if p]


@settings(max_examples=150, **FAST)
@given(st.lists(st.tuples(st.sampled_from(PLAN_PATHS), values), min_size=1, max_size=3))
def test_a_plan_with_fields_replaced_is_accepted_or_refused_by_name(changes):
    from vsim.spec.plan import parse_plan

    try:
        parse_plan(_replaced(PLAN, changes), "fuzz")
    except ScenarioError as exc:
        assert str(exc) and exc.problems


SWEPT = [".".join(str(x) for x in p) for p in PATHS if isinstance(p[-1], str)] + ["nope.path", "sweep", "seed"]


@settings(max_examples=150, **FAST)
@given(st.dictionaries(st.sampled_from(SWEPT), st.lists(values, max_size=4), min_size=1, max_size=3),
       st.one_of(st.integers(-2, 20), values))
def test_a_sweep_of_random_paths_and_values_is_accepted_or_refused_by_name(sweep, replications):
    from vsim.spec.sweep import expand

    data = {**copy.deepcopy(VALID), "sweep": sweep, "replications": replications}
    try:
        expand(parse_scenario(data, "fuzz"))
    except ScenarioError as exc:
        assert str(exc) and exc.problems
