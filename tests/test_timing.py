import pytest

from nbutils.timing import wall_times


def test_wall_times_calls_at_least_repeats_times():
    calls = []
    times = wall_times(lambda: calls.append(1), repeats=4, min_total=0)
    assert len(times) == len(calls) == 4
    assert all(t >= 0 for t in times)


def test_wall_times_keeps_calling_until_min_total_but_not_past_max_repeats():
    calls = []
    wall_times(lambda: calls.append(1), repeats=1, min_total=10.0, max_repeats=7)
    assert len(calls) == 7


@pytest.mark.parametrize("kwargs, message", [
    ({"run": 3}, "run must be a function"),
    ({"run": print, "repeats": 0}, "repeats must be a positive integer"),
    ({"run": print, "max_repeats": 1.5}, "max_repeats must be a positive integer"),
    ({"run": print, "min_total": -1}, "min_total must be a non-negative"),
])
def test_wall_times_rejects_bad_arguments(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        wall_times(**kwargs)
