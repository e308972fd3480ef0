"""The bench's statistics and report: percentiles, rates, targets and the printed tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carepath_tools.bench import report, stats, workload

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 50) == 2.5
    assert stats.percentile(values, 100) == 4.0
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert stats.percentile([7.0], 99) == 7.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summary_of_latencies() -> None:
    s = stats.summarise([float(x) for x in range(1, 1001)])
    assert s is not None
    assert (s.count, s.p50, s.max, s.mean) == (1000, 500.5, 1000.0, 500.5)
    assert s.p95 == pytest.approx(950.05) and s.p99 == pytest.approx(990.01)
    assert stats.summarise([]) is None


def test_combined_rate_is_doing_both_steps_per_message() -> None:
    assert stats.combined_rate(30_000, 120_000) == pytest.approx(24_000)
    assert stats.combined_rate(10.0, 0.0) == 0.0


def test_drain_rate_ignores_start_up_before_the_first_event() -> None:
    samples = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 500.0), (4.0, 1500.0), (5.0, 2000.0), (6.0, 2000.0)]
    assert stats.drain_rate(samples, 2000) == (pytest.approx(2000 / 3), 3.0)
    assert stats.drain_rate(samples, 5000) is None
    assert stats.partial_rate(samples[:5]) == (pytest.approx(750.0), 2.0)


def test_drain_rate_counts_from_the_first_sample_when_work_had_begun() -> None:
    samples = [(10.0, 100.0), (11.0, 1100.0), (12.0, 2100.0)]
    assert stats.drain_rate(samples, 2100) == (pytest.approx(1000.0), 2.0)


def test_a_missed_target_says_missed_and_an_absent_figure_is_not_measured() -> None:
    results = {
        "pipeline": {"end_to_end_per_s": 4200, "peak_rss_mb": {"intake": 120.0}},
        "triage": {
            "worker_per_s": 21000,
            "patients_in_state": 100000,
            "peak_rss_mb": 310.5,
            "core_us_per_event": 21.7,
        },
        "naive": {"drained_per_s": 7000},
        "latency": {"latency_ms": {"p99": 31.0}},
    }
    by_name = {t.name: t for t in report.targets(results)}
    core = by_name["triage core in-process, per event (median pass)"]
    assert (core.status, report.fmt(core.value, core.unit)) == (report.MISSED, "21.7 µs")
    assert by_name["end to end, intake -> triage -> followup"].status == report.MISSED
    assert by_name["triage, one worker draining a backlog"].status == report.MET
    assert by_name["triage worker / naive Faust stage"].value == pytest.approx(3.0)
    assert by_name["triage worker / naive Faust stage"].status == report.MET
    assert by_name["p99 intake accept -> escalation published, 1,000 ev/s"].status == report.MET
    assert by_name["reminder lateness p99"].status == report.NOT_MEASURED
    assert by_name["triage peak RSS, 100,000 patients in state"].status == report.MISSED
    assert by_name["intake peak RSS, end-to-end run"].status == report.MET
    assert by_name["followup peak RSS, end-to-end run"].status == report.NOT_MEASURED


def test_rendered_tables_line_up_and_show_the_share_of_the_raw_ceiling() -> None:
    results = {
        "raw": {"ceiling_per_s": 40_000, "cpu": {"others_pct": 3.2}},
        "naive": {"drained_per_s": 4_000, "cpu": {"others_pct": 14.6}},
    }
    text = report.render(results)
    assert "MISSED" not in text and "n/a" in text
    assert text.splitlines()[-1].endswith("raw 3 %, naive 15 %")
    naive = next(line for line in text.splitlines() if line.startswith("naive Faust stage"))
    assert "4,000 ev/s" in naive and naive.endswith("10.0 %")
    table = report.format_table(["name", "value"], [["a", "1"], ["longer", "22"]], right=(1,))
    assert table.splitlines() == ["name    value", "------  -----", "a           1", "longer     22"]
    with pytest.raises(ValueError):
        report.format_table(["one"], [["a", "b"]])


def test_figures_are_formatted_for_people() -> None:
    assert report.fmt(12345.6, "ev/s") == "12,346 ev/s"
    assert report.fmt(0.0421, "s") == "0.042 s"
    assert report.fmt(31.26, "ms") == "31.3 ms"
    assert report.fmt(2.96, "x") == "3.0x"
    assert report.fmt(None, "MB") == "-"


def test_the_synthetic_workload_is_deterministic_and_valid() -> None:
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    a = workload.generate(200, seed=5, base=base)
    b = workload.generate(200, seed=5, base=base)
    assert [e.value for e in a.events] == [e.value for e in b.events]
    assert a.events != workload.generate(200, seed=6, base=base).events
    assert workload.validate_sample(a.events, size=len(a.events)) == len(a.events)
    assert len({e.key for e in a.events}) == 200
    assert workload.body(a.events[:2]).startswith(b"[{") and workload.body(a.events[:2]).endswith(b"}]")


def test_the_schema_validators_are_listed_fastest_first_beside_jsonschema() -> None:
    results = {
        "validators": {
            "events": 20_000,
            "validators": {
                "jsonschema": {"us_per_event": 400.0, "per_s": 2_500},
                "jsonschema-rs": {"us_per_event": 8.0, "per_s": 125_000},
            },
        }
    }
    assert report.validator_rows(results) == [
        ["jsonschema-rs", "8.00", "125,000", "50.0x"],
        ["jsonschema", "400.00", "2,500", "1.0x"],
    ]
    text = report.render(results)
    assert "schema validation of 20,000 events, in-process" in text
    assert report.validator_rows({"raw": {"ceiling_per_s": 1.0}}) == []


def test_the_restart_table_shows_each_store_at_each_size_and_the_target_at_a_million() -> None:
    figures = {
        "patients": 1_000_000,
        "memory": {"seconds_to_ready": 108.07, "peak_rss_mb": 1041.8},
        "rocksdb_first_start": {"seconds_to_ready": 133.17, "peak_rss_mb": 319.9},
        "rocksdb_disk_mb": 392.1,
        "rocksdb_after_sigkill": {"seconds_to_ready": 12.5, "peak_rss_mb": 159.7},
    }
    results = {"restart": {"sizes": {"1000000": figures}}}
    assert report.restart_rows(results) == [
        ["1,000,000 patients", "108.1 s, 1,042 MB", "133.2 s, 320 MB", "12.5 s, 160 MB", "392 MB"]
    ]
    [target] = [t for t in report.targets(results) if "SIGKILL" in t.name]
    assert (target.value, target.status) == (12.5, report.MISSED)
    assert "RocksDB after SIGKILL" in report.render(results)
    assert report.restart_rows({}) == []
