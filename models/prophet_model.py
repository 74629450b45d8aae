"""Prophet forecast of one time series, as a model module: `Model().run()`.

The same forecast as notebooks/forecast.ipynb, in the form of the design kit descends
from (a Python file whose `Model` class has a `run` method). kit publishes the file
as is, reads run()'s parameters as its schema, and runs `Model().run(**parameters)`:

    kit publish models/prophet_model.py
    kit run prophet_model -p horizon 90 -p run_date 2026-11-23 --run-id try-1

1. Load a CSV with columns `ds` and `y`, keeping the rows known on `run_date`.
2. Back-test: fit without the last `holdout` rows, then record the MAPE and the coverage
   of the `interval_width` interval on them (kit.record, as the notebook does).
3. Forecast `horizon` periods, write forecast.csv and forecast.png under `output_prefix`,
   and return the last forecast rows.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from datetime import date

import fsspec
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Prophet says at import that plotly is missing: only matplotlib is used.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
from prophet import Prophet  # noqa: E402

import kit  # noqa: E402

# Prophet and its Stan backend: warnings and errors only (cmdstanpy resets its own level
# when it first logs, so it gets a filter).
logging.getLogger("prophet").setLevel(logging.WARNING)
logging.getLogger("cmdstanpy").addFilter(lambda record: record.levelno >= logging.WARNING)
warnings.filterwarnings("ignore", message="IProgress not found")

log = logging.getLogger(__name__)
UNCERTAINTY_SAMPLES = 300  # fewer simulated paths than Prophet's 1000; intervals barely change
SEED = 0  # Prophet simulates its intervals with numpy's global RNG: seeded, reruns match


def infer_frequency(ds: pd.Series) -> str:
    """The pandas frequency of sorted timestamps; robust to a few gaps."""
    if len(ds) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            freq = pd.infer_freq(ds)
        if freq is not None:
            return str(getattr(freq, "freqstr", freq))
    step = ds.diff().median()
    if pd.isna(step):
        return "D"
    if step >= pd.Timedelta(days=28) and (ds.dt.day == 1).all():
        return "MS"
    if step < pd.Timedelta(days=1):
        return str(pd.tseries.frequencies.to_offset(step).freqstr)
    days = max(1, round(step / pd.Timedelta(days=1)))
    return "D" if days == 1 else f"{days}D"


def write_bytes(url: str, data: bytes, content_type: str) -> None:
    """Write a file to a gs:// URL or a local path (creating local folders)."""
    fs, path = fsspec.core.url_to_fs(url)
    if "gs" in fs.protocol or "gcs" in fs.protocol:
        fs.pipe_file(path, data, content_type=content_type)
    else:
        fs.makedirs(fs._parent(path), exist_ok=True)
        fs.pipe_file(path, data)


class Model:
    """A Prophet model of one series: back-tested, then refitted to forecast."""

    def __init__(self) -> None:
        plt.rcParams.update({"figure.figsize": (11, 5), "axes.grid": True, "grid.alpha": 0.3})

    def run(
        self,
        dataset_url: str = "gs://kit-data/prophet-examples/example_wp_log_peyton_manning.csv",
        horizon: int = 365,
        holdout: int = 180,
        run_date: date = date(2026, 11, 23),
        output_prefix: str = "gs://kit-outputs/runs/prophet_model/local/",
        interval_width: float = 0.8,
    ) -> pd.DataFrame:
        """Back-test, forecast and write the forecast; returns its last rows.

        Args:
            dataset_url: CSV with columns ds, y
            horizon: periods to forecast, in the dataset's own frequency
            holdout: trailing rows held out to evaluate the model
            run_date: the forecast is made on this date: only data up to it is used
            output_prefix: forecast.csv and forecast.png are written here
            interval_width: width of the uncertainty interval, between 0 and 1
        """
        if not 0 < interval_width < 1:
            raise ValueError(f"interval_width must be between 0 and 1, not {interval_width!r}")
        if horizon < 1 or holdout < 1:
            raise ValueError(f"horizon and holdout must be at least 1 ({horizon=}, {holdout=})")
        self.interval_width = interval_width
        history = self.load(dataset_url, run_date, holdout)
        freq = infer_frequency(history["ds"])
        log.info("%d rows up to %s, frequency %s", len(history), run_date, freq)
        self.backtest(history, holdout)
        forecast_df, fig = self.forecast(history, horizon, freq)
        prefix = output_prefix if output_prefix.endswith("/") else output_prefix + "/"
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
        write_bytes(prefix + "forecast.csv", forecast_df.to_csv(index=False).encode(), "text/csv")
        write_bytes(prefix + "forecast.png", png.getvalue(), "image/png")
        print(f"wrote {prefix}forecast.csv ({len(forecast_df)} rows) and {prefix}forecast.png")
        return forecast_df.tail(5).reset_index(drop=True)

    def new_model(self) -> Prophet:
        return Prophet(interval_width=self.interval_width, uncertainty_samples=UNCERTAINTY_SAMPLES)

    def load(self, dataset_url: str, run_date: date, holdout: int) -> pd.DataFrame:
        """The series up to and including run_date, sorted, one row per date."""
        raw = pd.read_csv(dataset_url)
        missing = {"ds", "y"} - set(raw.columns)
        if missing:
            raise ValueError(f"{dataset_url}: missing column(s) {sorted(missing)}")
        data = (
            raw[["ds", "y"]]
            .assign(
                ds=lambda d: pd.to_datetime(d["ds"]),
                y=lambda d: pd.to_numeric(d["y"], errors="coerce"),
            )
            .dropna()
            .sort_values("ds")
            .drop_duplicates("ds", keep="last")
            .reset_index(drop=True)
        )
        history = data[data["ds"] < pd.Timestamp(run_date) + pd.Timedelta(days=1)]
        history = history.reset_index(drop=True)
        if len(history) - holdout < 10:
            raise ValueError(
                f"{dataset_url}: {len(history)} rows up to {run_date}; "
                f"holdout={holdout} leaves fewer than 10 rows to fit on"
            )
        first, last = data["ds"].min(), data["ds"].max()
        print(f"{dataset_url}: {len(data)} rows, {first:%Y-%m-%d} to {last:%Y-%m-%d}")
        return history

    def backtest(self, history: pd.DataFrame, holdout: int) -> None:
        """Fit without the last holdout rows; record MAPE and interval coverage on them."""
        train, test = history.iloc[:-holdout], history.iloc[-holdout:].reset_index(drop=True)
        model = self.new_model().fit(train)
        np.random.seed(SEED)
        predicted = model.predict(test[["ds"]])
        evaluation = predicted[["ds", "yhat", "yhat_lower", "yhat_upper"]].assign(
            y=test["y"].to_numpy()
        )
        nonzero = evaluation["y"] != 0
        ape = (evaluation["y"] - evaluation["yhat"]).abs() / evaluation["y"].abs()
        mape = float(ape[nonzero].mean() * 100) if nonzero.any() else math.nan
        coverage = float(
            evaluation["y"].between(evaluation["yhat_lower"], evaluation["yhat_upper"]).mean()
        )
        kit.record("mape", round(mape, 4))
        kit.record("coverage", round(coverage, 4))
        kit.record("n_train", len(train))
        kit.record("holdout_rows", len(test))
        print(f"MAPE {mape:.2f}%, {self.interval_width:.0%} interval coverage {coverage:.1%}")

        context = train.tail(min(len(train), 3 * holdout))
        _, ax = plt.subplots()
        ax.plot(context["ds"], context["y"], ".", color="0.55", markersize=3, label="training data")
        ax.plot(
            evaluation["ds"],
            evaluation["y"],
            ".",
            color="black",
            markersize=4,
            label="held-out actuals",
        )
        ax.plot(evaluation["ds"], evaluation["yhat"], color="#0072B2", label="forecast")
        ax.fill_between(
            evaluation["ds"],
            evaluation["yhat_lower"],
            evaluation["yhat_upper"],
            color="#0072B2",
            alpha=0.2,
        )
        ax.axvline(train["ds"].max(), color="0.3", linestyle="--", linewidth=1)
        ax.set(
            title=f"Back-test on the last {len(test)} rows: MAPE {mape:.2f}%",
            xlabel="ds",
            ylabel="y",
        )
        ax.legend(loc="upper left")
        plt.show()

    def forecast(
        self, history: pd.DataFrame, horizon: int, freq: str
    ) -> tuple[pd.DataFrame, plt.Figure]:
        """Refit on all of history and forecast horizon periods; the table and its plot."""
        model = self.new_model().fit(history)
        future = model.make_future_dataframe(periods=horizon, freq=freq)
        np.random.seed(SEED)
        forecast = model.predict(future)
        history_end = history["ds"].max()
        columns = ["ds", "y", "yhat", "yhat_lower", "yhat_upper"]
        forecast_df = forecast.merge(history, on="ds", how="left")[columns]
        tail = forecast_df.tail(5)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
        kit.record("forecast_tail", tail.assign(ds=tail["ds"].dt.strftime("%Y-%m-%d")).round(4))
        log.info("forecast %d periods of %s from %s", horizon, freq, f"{history_end:%Y-%m-%d}")

        fig = model.plot(forecast, xlabel="ds", ylabel="y", figsize=(11, 5))
        fig.gca().axvline(history_end, color="0.3", linestyle="--", linewidth=1)
        fig.gca().set_title(f"Forecast of {horizon} periods ({freq}) from {history_end:%Y-%m-%d}")
        plt.show()
        return forecast_df, fig
