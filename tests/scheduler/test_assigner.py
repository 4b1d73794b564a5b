"""The pure assignment decision: community, capacity, balance, familiar faces."""

from __future__ import annotations

from carevisit.scheduler.assignment import Assigner, VolunteerLoad


def volunteers(*specs: tuple[int, int, set[int], int]) -> Assigner:
    return Assigner(VolunteerLoad(id=i, capacity=c, communities=s, load=load) for i, c, s, load in specs)


def test_balance_goes_by_share_of_capacity_not_by_count() -> None:
    assigner = volunteers((1, 10, {7}, 5), (2, 4, {7}, 1))  # 50% used against 25% used
    assert [assigner.pick(community_id=7) for _ in range(3)] == [2, 2, 1]


def test_only_volunteers_of_the_community_and_never_beyond_capacity() -> None:
    assigner = volunteers((1, 1, {7}, 0), (2, 5, {8}, 0), (3, 0, {7}, 0))
    assert [assigner.pick(community_id=7) for _ in range(3)] == [1, None, None]


def test_a_familiar_face_is_preferred_while_they_have_room_and_serve_the_community() -> None:
    assigner = volunteers((1, 2, {7}, 0), (2, 9, {7}, 0), (3, 9, {8}, 0))
    assert assigner.pick(community_id=7, preferred=(None, 1)) == 1
    assert assigner.pick(community_id=7, preferred=(1,)) == 1
    assert assigner.pick(community_id=7, preferred=(1,)) == 2  # full: balance takes over
    assert assigner.pick(community_id=7, preferred=(3,)) == 2  # serves another community
    assert assigner.pick(community_id=7, preferred=(99,)) == 2  # inactive or unknown


def test_a_volunteer_serving_two_communities_is_counted_once_across_both() -> None:
    assigner = volunteers((1, 2, {7, 8}, 0))
    assert [assigner.pick(community_id=7), assigner.pick(community_id=8), assigner.pick(community_id=7)] == [1, 1, None]


def test_released_capacity_can_be_taken_again() -> None:
    assigner = volunteers((1, 1, {7}, 1))
    assert assigner.pick(community_id=7) is None
    assigner.release(1)
    assert assigner.pick(community_id=7) == 1
