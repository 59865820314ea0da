"""Task-reference matching and ownership disambiguation (upstream 6.1 rules)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_factories import build_group as make_group

from fractal_core.io.matching import Ownership
from fractal_core.io.matching import ResolutionFailure
from fractal_core.io.matching import TaskGroupDisambiguationError
from fractal_core.io.matching import accessible_task_groups
from fractal_core.io.matching import disambiguate_task_groups
from fractal_core.io.matching import group_task_groups_by_package
from fractal_core.io.matching import resolve_task_reference
from fractal_core.io.schemas import TaskImport
from fractal_core.io.versions import version_sort_key

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def ref(version: str | None = "1.0.0", **kw: str) -> TaskImport:
    data = {"pkg_name": "package_name", "name": "task_name", "version": version}
    data.update(kw)
    return TaskImport.model_validate(data)


GROUPS = [
    make_group(1, "0.0.1"),
    make_group(2, "1.0.0", is_core=True),
    make_group(3, "0.0.2", active=False, is_core=True),
    make_group(4, "0.2.14"),
]
ME = Ownership(user_id=1)


def test_exact_version_found() -> None:
    res = resolve_task_reference(ref("1.0.0"), GROUPS, ME)
    assert res.ok and res.task.id == 200 and res.task_group.id == 2
    assert res.to_dict() == {
        "outcome": "success",
        "pkg_name": "package_name",
        "version": "1.0.0",
        "task_name": "task_name",
        "task_id": 200,
    }


@pytest.mark.parametrize(
    "reference",
    [ref(name="task name"), ref(pkg_name="package name"), ref(pkg_name="other")],
)
def test_no_group_matches_package_and_name(reference: TaskImport) -> None:
    res = resolve_task_reference(reference, GROUPS, ME)
    assert not res.ok and res.reason is ResolutionFailure.NO_MATCH
    assert res.to_dict()["available_tasks"] == []


def test_package_name_matched_after_normalisation() -> None:
    res = resolve_task_reference(ref(pkg_name="Package.Name"), GROUPS, ME)
    assert res.ok and res.task_group.id == 2


def test_wrong_version_lists_versions_newest_first() -> None:
    res = resolve_task_reference(ref("1.0.1"), GROUPS, ME)
    assert res.reason is ResolutionFailure.VERSION_NOT_FOUND
    assert res.to_dict()["available_tasks"] == [
        {
            "version": "1.0.0",
            "active": True,
            "older_than_target": True,
            "is_core": True,
        },
        {
            "version": "0.2.14",
            "active": True,
            "older_than_target": True,
            "is_core": False,
        },
        {
            "version": "0.0.2",
            "active": False,
            "older_than_target": True,
            "is_core": True,
        },
        {
            "version": "0.0.1",
            "active": True,
            "older_than_target": True,
            "is_core": False,
        },
    ]
    assert [a.task_group_id for a in res.available_tasks] == [2, 4, 3, 1]


def test_older_than_target_is_per_version() -> None:
    res = resolve_task_reference(ref("0.1"), GROUPS, ME)
    older = {a.version: a.older_than_target for a in res.available_tasks}
    assert older == {"1.0.0": False, "0.2.14": False, "0.0.2": True, "0.0.1": True}


def test_missing_version_always_fails_listing_everything() -> None:
    res = resolve_task_reference(ref(None), GROUPS, ME)
    assert res.reason is ResolutionFailure.VERSION_MISSING
    assert [a.version for a in res.available_tasks] == [
        "1.0.0",
        "0.2.14",
        "0.0.2",
        "0.0.1",
    ]
    assert not any(a.older_than_target for a in res.available_tasks)
    assert "no version given" in res.describe()


def test_inactive_group_still_matches() -> None:
    res = resolve_task_reference(ref("0.0.2"), GROUPS, ME)
    assert res.ok and res.task_group.active is False


def test_unparsable_versions_rank_below_pep440() -> None:
    groups = [make_group(1, "myversion"), make_group(2, "0.1")]
    res = resolve_task_reference(ref("9"), groups, ME)
    assert [(a.version, a.older_than_target) for a in res.available_tasks] == [
        ("0.1", True),
        ("myversion", True),
    ]


# Ownership: issue 2852 regression and the reference's disambiguation test.
def test_own_group_wins_over_shared_group() -> None:
    groups = [
        make_group(1, "2.0.0", user_id=2, user_group_id=7),
        make_group(2, "1.0.0", user_id=1),
        make_group(3, "2.0.0", user_id=1, user_group_id=7),
    ]
    mine = Ownership(user_id=1, memberships={7: T0})
    res = resolve_task_reference(ref("2.0.0"), groups, mine)
    assert res.ok and res.task_group.id == 3


def test_disambiguation_priorities() -> None:
    default, old, new = 10, 20, 30
    a = make_group(1, "1.0.0", user_id=1, user_group_id=default)
    b = make_group(2, "1.0.0", user_id=2, user_group_id=old)
    c = make_group(3, "1.0.0", user_id=3, user_group_id=new)
    links = {default: T0, old: T0 + timedelta(days=1), new: T0 + timedelta(days=2)}

    def who(uid: int) -> Ownership:
        return Ownership(user_id=uid, default_group_id=default, memberships=links)

    assert disambiguate_task_groups([a, b], who(1)) is a  # own group
    assert disambiguate_task_groups([c, a], who(2)) is a  # default group
    assert disambiguate_task_groups([c, b], who(1)) is b  # oldest membership
    assert disambiguate_task_groups([], who(2)) is None
    stranger = Ownership(user_id=9)
    assert disambiguate_task_groups([b, c], stranger) is None


def test_ambiguous_same_version_fails_listing_candidates() -> None:
    groups = [
        make_group(1, "1.0.0", user_id=2, user_group_id=5),
        make_group(2, "1.0.0", user_id=3, user_group_id=6),
    ]
    res = resolve_task_reference(ref("1.0.0"), groups, Ownership(user_id=9))
    assert res.reason is ResolutionFailure.AMBIGUOUS
    assert [a.task_group_id for a in res.available_tasks] == [1, 2]
    assert "task group 1" in res.describe() and "task group 2" in res.describe()


def test_accessible_groups() -> None:
    groups = [
        make_group(1, "1", user_id=1),
        make_group(2, "2", user_id=2, user_group_id=5),
        make_group(3, "3", user_id=2, user_group_id=6),
        make_group(4, "4", user_id=2, user_group_id=10),
    ]
    me = Ownership(user_id=1, default_group_id=10, memberships={5: T0})
    assert [g.id for g in accessible_task_groups(groups, me)] == [1, 2, 4]
    assert len(accessible_task_groups(groups, Ownership())) == 4


def test_listing_by_package_then_version() -> None:
    groups = [
        make_group(1, "1.9.0", pkg_name="b"),
        make_group(2, "1.10.0", pkg_name="b"),
        make_group(3, "abc", pkg_name="b"),
        make_group(4, "1.0", pkg_name="a"),
        make_group(5, "1.10.0", pkg_name="b", user_id=2),
    ]
    listing = group_task_groups_by_package(groups, ME)
    assert [(name, [g.id for g in gs]) for name, gs in listing] == [
        ("a", [4]),
        ("b", [2, 1, 3]),
    ]
    with pytest.raises(TaskGroupDisambiguationError, match="user_id=9"):
        group_task_groups_by_package(groups, Ownership(user_id=9))


versions = st.sampled_from(["0.1", "1.0.0", "1.10.0", "1.9.0", "2.0.0a1", "dev", "x"])


@given(
    st.lists(st.tuples(versions, st.booleans()), min_size=1, max_size=8),
    st.one_of(st.none(), versions),
)
def test_resolution_properties(
    spec: list[tuple[str, bool]], wanted: str | None
) -> None:
    groups = [make_group(i, v, active=act) for i, (v, act) in enumerate(spec)]
    res = resolve_task_reference(ref(wanted), groups, ME)
    present = {v for v, _ in spec}
    assert res.ok == (wanted is not None and wanted in present)
    if res.ok:
        assert res.task_group.version == wanted
        return
    listed = [a.version for a in res.available_tasks]
    assert sorted(listed) == sorted(v for v, _ in spec)
    keys = [version_sort_key(v) for v in listed]
    assert keys == sorted(keys, reverse=True)
    for item in res.available_tasks:
        expected = wanted is not None and version_sort_key(
            item.version
        ) < version_sort_key(wanted)
        assert item.older_than_target == expected


def test_issue_2852_private_group_of_another_user_is_invisible() -> None:
    groups = [
        make_group(1, "2.0.0", user_id=2),  # another user's private group
        make_group(2, "1.0.0", user_id=1),
        make_group(3, "2.0.0", user_id=1, user_group_id=7),  # mine, shared
    ]
    me = Ownership(user_id=1, memberships={7: T0})
    visible = accessible_task_groups(groups, me)
    assert [g.id for g in visible] == [2, 3]
    res = resolve_task_reference(ref("2.0.0"), visible, me)
    assert res.ok and res.task_group.id == 3


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.sampled_from([None, 5, 6, 7])),
        max_size=6,
    ),
    st.sampled_from([None, 5]),
    st.dictionaries(st.sampled_from([5, 6, 7]), st.integers(0, 3)),
)
def test_disambiguation_property(
    owners: list[tuple[int, int | None]],
    default_group: int | None,
    link_days: dict[int, int],
) -> None:
    groups = [
        make_group(i + 1, "1.0.0", user_id=uid, user_group_id=gid)
        for i, (uid, gid) in enumerate(owners)
    ]
    links = {gid: T0 + timedelta(days=d) for gid, d in link_days.items()}
    chosen = disambiguate_task_groups(
        groups, Ownership(user_id=1, default_group_id=default_group, memberships=links)
    )
    own = [g for g in groups if g.user_id == 1]
    in_default = [
        g for g in groups if default_group and g.user_group_id == default_group
    ]
    linked = [g for g in groups if g.user_group_id in links]
    if own:
        assert chosen is own[0]
    elif in_default:
        assert chosen is in_default[0]
    elif linked:
        assert chosen in linked
        assert all(
            links[chosen.user_group_id] <= links[g.user_group_id] for g in linked
        )
        assert chosen is next(
            g for g in linked if g.user_group_id == chosen.user_group_id
        )
    else:
        assert chosen is None
