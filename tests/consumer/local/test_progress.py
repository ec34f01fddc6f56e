"""The progress line: what it says, and how lines from logs and handlers share the screen."""

from __future__ import annotations

import io
import threading

import pytest

from consumer.local.progress import Progress, Terminal, progress_line


def progress(
    done: int = 1234, target: int | None = 2000, lag: int | None = 766, rate: float | None = 812.4
) -> Progress:
    return Progress(
        elapsed_s=3.25,
        done=done,
        dead_lettered=1,
        in_flight=12,
        retries=3,
        target=target,
        lag=lag,
        rate_per_s=rate,
    )


def test_the_line_shows_done_of_target_rate_lag_in_flight_retries_and_dead_letters() -> None:
    assert progress_line(progress()) == (
        "  3.2 s  1,234/2,000 done (61%)  812 records/s  lag 766  in flight 12  retries 3  "
        "dead-lettered 1"
    )
    assert "  1,234 done  " in progress_line(progress(target=None, lag=None, rate=None))
    assert "lag ?" in progress_line(progress(target=None, lag=None, rate=None))


def test_with_filter_patterns_the_line_counts_the_filtered_records() -> None:
    filtering = Progress(3.25, 2000, 0, 0, 0, 2000, 0, filtered=1500)
    assert progress_line(filtering).endswith("dead-lettered 0  filtered 1,500")
    assert "filtered" not in progress_line(progress())


def test_on_a_narrow_terminal_the_least_useful_fields_go_first_and_the_line_fits() -> None:
    full = progress_line(progress())
    assert len(full) > 79  # what wrapped on an 80-column terminal, leaving a row per refresh
    at_80 = progress_line(progress(), width=80)
    assert at_80 == ("  3.2 s  1,234/2,000 done (61%)  812 records/s  lag 766  dead-lettered 1")
    assert len(at_80) <= 79
    at_70 = progress_line(progress(), width=70)
    assert at_70 == "  3.2 s  1,234/2,000 done (61%)  812 records/s  dead-lettered 1"
    at_60 = progress_line(progress(), width=60)
    assert at_60 == "  3.2 s  1,234/2,000 done (61%)  812 records/s"
    assert progress_line(progress(), width=200) == full
    for width in range(1, 120):
        assert len(progress_line(progress(), width=width)) <= max(width - 1, 0)


def test_a_live_line_fits_the_terminal_it_is_drawn_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")  # shutil.get_terminal_size reads it first
    out = io.StringIO()
    Terminal(out, live=True).show(progress())
    drawn = out.getvalue().removeprefix("\r\x1b[K")
    assert 0 < len(drawn) <= 49
    assert "done" in drawn


def test_before_a_rate_can_be_measured_the_line_says_so_and_shows_no_zero() -> None:
    assert "… records/s" in progress_line(progress(rate=None))
    assert " 0 records/s" not in progress_line(progress(rate=None))


def test_on_a_terminal_a_log_line_goes_above_the_live_line_which_is_drawn_again() -> None:
    out = io.StringIO()
    terminal = Terminal(out, live=True)
    terminal.show(progress())
    line = out.getvalue().removeprefix("\r\x1b[K")

    terminal.stream().write('{"message": "record dead-lettered"}\n')

    assert out.getvalue().endswith('\r\x1b[K{"message": "record dead-lettered"}\n' + line)


def test_printed_text_becomes_whole_lines_even_from_several_threads() -> None:
    out = io.StringIO()
    stream = Terminal(out, live=False).stream()

    def prints(name: str) -> None:
        for n in range(200):
            print(name, n, file=stream)  # print writes text and newline separately

    threads = [threading.Thread(target=prints, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted(f"{name} {n}" for name in "ab" for n in range(200))


def test_without_a_terminal_a_plain_line_is_printed_at_most_every_interval() -> None:
    out = io.StringIO()
    terminal = Terminal(out, live=False)
    terminal.show(progress(done=1))
    terminal.show(progress(done=2))  # within the interval: not printed
    terminal.show(progress(done=3), force=True)

    lines = out.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["1/2,000", "3/2,000"]
    assert "\r" not in out.getvalue()


def test_a_status_line_takes_the_live_line_s_place_and_leaves_no_trace_when_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    out = io.StringIO()
    terminal = Terminal(out, live=True)
    terminal.show_status("producing 10,000/1,000,000 records (keys key-0…key-99)")
    terminal.clear_progress()
    terminal.say("produced  1,000,000 records")

    assert out.getvalue() == (
        "\r\x1b[Kproducing 10,000/1,000,000 re"  # cut to the terminal's width less one
        "\r\x1b[K"
        "produced  1,000,000 records\n"
    )


def test_without_a_terminal_the_first_line_after_a_status_line_is_printed_at_once() -> None:
    out = io.StringIO()
    terminal = Terminal(out, live=False)
    terminal.show_status("producing 0/5 records")
    terminal.show_status("producing 5/5 records")  # within the interval: not printed
    terminal.clear_progress()
    terminal.show(progress(done=1))

    assert [line.split()[0] for line in out.getvalue().splitlines()] == ["producing", "3.2"]
