"""The freshness benchmark runs, and with events a change reaches Config within minutes, a burst with few starts."""

from benchmarks.freshness import Timeline, main


def test_a_burst_of_100_changes_in_a_minute_starts_few_evaluations_and_none_is_left_stale():
    burst = [1000.0 + n * 0.6 for n in range(100)]
    timeline = Timeline(2000, "scheduled", delay=300.0)
    latencies = timeline.play(burst, 9000.0)
    assert timeline.starts <= 4
    assert max(latencies) < 15 * 60  # the last change too: nowhere near the hourly sweep


def test_without_the_event_path_the_hourly_sweep_is_all_there_is():
    latencies = Timeline(500, "scheduled", delay=300.0, events_on=False).play([2000.0], 9000.0)
    assert latencies[0] > 15 * 60


def test_the_quick_variant_prints_every_reading():
    lines = []
    main(["--sizes", "500"], emit=lines.append)
    text = "\n".join(lines)
    assert all(reading in text for reading in ("scheduled", "per-user", "both", "hourly sweep only"))


def test_with_the_event_history_15_minutes_behind_eventbridge_a_change_still_comes_through_the_event_path():
    latencies = Timeline(500, "scheduled", delay=300.0, history_lag=900.0).play([2000.0], 9000.0)
    # Shown 20 minutes after the change; the run the function then starts sees it, not the next hourly sweep.
    assert 20 * 60 < latencies[0] < 25 * 60


def test_a_run_started_before_the_event_history_shows_the_change_does_not_count_as_seeing_it():
    timeline = Timeline(500, "scheduled", delay=300.0, history_lag=300.0)
    latencies = timeline.play([2000.0], 9000.0)
    assert latencies[0] >= 600  # never before the history shows it (5 + 5 minutes)
