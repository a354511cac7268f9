from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.sources._semver import Constraint, Version

VERSIONS = [
    "0.1.0",
    "0.2.3",
    "0.2.9",
    "0.3.0",
    "1.0.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-rc.1",
    "1.9.0",
    "2.0.0-rc.1",
    "2.0.0",
    "2.1.0+build.7",
]


def test_versions_parse_and_print():
    version = Version.parse("v1.2.3-rc.1+build.5")
    assert (version.major, version.minor, version.patch) == (1, 2, 3)
    assert version.prerelease == ("rc", 1)
    assert version.build == "build.5"
    assert version.is_prerelease
    assert str(version) == "1.2.3-rc.1+build.5"
    assert str(Version.parse("1.2")) == "1.2.0"  # shortened versions, as Helm reads them
    for bad in ("", "1.2.3.4", "one", "1.2.3-", "01.2.3"):
        with pytest.raises(ValueError, match="is not a semantic version"):
            Version.parse(bad)


def test_precedence_follows_semver_2():
    # The ordering example of the SemVer 2.0 specification, section 11.
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(parsed[6:] + parsed[:6]) == parsed
    assert all(a < b for a, b in itertools.pairwise(parsed))
    assert Version.parse("1.0.0+a").same_as(Version.parse("1.0.0+b"))  # build metadata does not count


@pytest.mark.parametrize(
    ("constraint", "best"),
    [
        ("*", "2.1.0+build.7"),
        ("", "2.1.0+build.7"),
        ("x", "2.1.0+build.7"),
        ("1.2.5", "1.2.5"),
        ("=1.2.5", "1.2.5"),
        ("v1.2.5", "1.2.5"),
        ("2.1.0", "2.1.0+build.7"),
        ("1.2.*", "1.2.5"),
        ("1.2.x", "1.2.5"),
        ("1.2", "1.2.5"),
        ("1", "1.9.0"),
        (">=1.0.0 <2.0.0", "1.9.0"),
        (">=1.0.0, <1.9.0", "1.2.5"),
        (">= 1.0.0 < 1.9", "1.2.5"),
        ("^1.2", "1.9.0"),
        ("^1.2.3", "1.9.0"),
        ("^0.2.3", "0.2.9"),
        ("^0.0", None),
        ("^0", "0.3.0"),
        ("~1.2.3", "1.2.5"),
        ("~1.2", "1.2.5"),
        ("~>1.2", "1.2.5"),
        ("~1", "1.9.0"),
        (">1.2", "2.1.0+build.7"),
        (">1.2 <2", "1.9.0"),
        ("<=1.2", "1.2.5"),
        ("<1.2.5", "1.2.0"),
        ("!=2.1.0", "2.0.0"),
        ("1 - 1.2", "1.2.5"),
        ("0.2 - 1.0.0", "1.0.0"),
        ("<0.2 || 1.2.x", "1.2.5"),
        ("<0.2 || >=5", "0.1.0"),
        ("3.x", None),
        ("1.2.4", None),
    ],
)
def test_the_highest_allowed_version_wins(constraint, best):
    assert Constraint.parse(constraint).best(VERSIONS) == best


@pytest.mark.parametrize(
    ("constraint", "best"),
    [
        ("1.3.0-rc.1", "1.3.0-rc.1"),  # named exactly
        (">=1.3.0-0 <2.0.0", "1.9.0"),  # prereleases allowed, but a release is higher
        (">=1.3.0-0 <1.9.0", "1.3.0-rc.1"),
        (">=0.0.0-0", "2.1.0+build.7"),  # helm's --devel
        (">=2.0.0-0 <2.0.1", "2.0.0"),
        (">=2.0.0-0 <2.0.0", None),  # "<2.0.0" is "before 2.0.0's prereleases"
        (">=2.0.0-0 <=2.0.0-rc.1", "2.0.0-rc.1"),
        ("^1.3.0-0", "1.9.0"),
        ("~1.3.0-0", "1.3.0-rc.1"),
    ],
)
def test_prereleases_only_when_the_constraint_names_one(constraint, best):
    assert Constraint.parse(constraint).best(VERSIONS) == best


def test_ranges_without_a_prerelease_never_pick_one():
    for text in ("*", "1.3.x", ">=1.3.0", "^1.3", "~1.3.0", ">=1.0.0 <2.0.0", "1.3.0 - 2.0.0"):
        constraint = Constraint.parse(text)
        assert not constraint.allows("1.3.0-rc.1"), text
        assert not constraint.allows("2.0.0-rc.1"), text
    # "<2.0.0" and the upper bound "^" implies stop before 2.0.0's prereleases, even when prereleases are on.
    assert not Constraint.parse(">=1.3.0-0 <2.0.0").allows("2.0.0-rc.1")
    assert not Constraint.parse("^1.3.0-0").allows("2.0.0-rc.1")
    assert Constraint.parse("^1.3.0-0").allows("1.4.0-beta")


def test_allows_reads_strings_and_refuses_what_is_not_a_version():
    constraint = Constraint.parse("^1")
    assert constraint.allows("1.5.0")
    assert constraint.allows(Version(1, 5))
    assert not constraint.allows("latest")
    assert Constraint.parse("*").best(["latest", "0.1.0", "nightly"]) == "0.1.0"
    assert Constraint.parse("*").best([]) is None
    assert str(constraint) == "^1"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (">=", "cannot read '>='"),
        ("1.2.3foo", "cannot read '1.2.3foo'"),
        (">=1.0 <", "cannot read '<'"),
        ("latest", "cannot read 'latest'"),
        ("1.2-beta", "a prerelease needs a full major.minor.patch version"),
        ("1.0 ||| 2.0", "cannot read '| 2.0'"),
    ],
)
def test_bad_constraints_are_refused_naming_the_part(text, problem):
    with pytest.raises(ValueError, match="is not a version constraint") as caught:
        Constraint.parse(text)
    assert problem in str(caught.value)


_numbers = st.integers(min_value=0, max_value=5)
_versions = st.builds(
    lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
    _numbers,
    _numbers,
    _numbers,
    st.sampled_from(["", "", "rc.1", "alpha", "0"]),
)
_constraints = st.sampled_from(["*", "^1.2", "~2.0", ">=1.0.0 <3.0.0", "1.x || 4.x", ">=0.0.0-0", "3.1.2", "!=2.2.2"])


@given(st.lists(_versions, max_size=12), _constraints)
def test_best_is_allowed_and_nothing_allowed_is_higher(versions, text):
    constraint = Constraint.parse(text)
    best = constraint.best(versions)
    allowed = [Version.parse(v) for v in versions if constraint.allows(v)]
    if best is None:
        assert allowed == []
    else:
        assert constraint.allows(best)
        assert all(v <= Version.parse(best) for v in allowed)
