"""Argument descriptions from Google and numpy style docstrings."""

from __future__ import annotations

import textwrap

from kit.docargs import argument_descriptions


def test_google_style_with_types_continuations_and_a_next_section() -> None:
    doc = textwrap.dedent(
        """\
        Forecast.

        Args:
            horizon (int): periods
                to forecast
            *extra: ignored by kit
            label: shown in titles

        Returns:
            the forecast
        """
    )
    assert argument_descriptions(doc) == {
        "horizon": "periods to forecast",
        "extra": "ignored by kit",
        "label": "shown in titles",
    }


def test_numpy_style_stops_at_the_next_section() -> None:
    doc = "Forecast.\n\nParameters\n----------\nhorizon : int\n    periods\nflag\n"
    doc += "\nReturns\n-------\nx\n"
    assert argument_descriptions(doc) == {"horizon": "periods", "flag": ""}


def test_no_arguments_section() -> None:
    assert argument_descriptions("Just a summary.\n\nMore text: with a colon.") == {}
