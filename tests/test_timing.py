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
