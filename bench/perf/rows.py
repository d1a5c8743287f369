"""The one row format every figure returns (see bench/perf/__main__.py)."""

COLUMNS = ["figure", "metric", "product", "relay", "ratio", "target", "met"]


def row(figure: str, metric: str, product: float | int | None, *, relay: float | int | None = None,
        target: str = "", met: bool | None = None, ratio: float | None = None, **extra) -> dict:
    """One line of the table. `ratio` defaults to product / relay when both are known;
    `met` is None when the figure has no target. Extra keys go to the JSON only."""
    if ratio is None and product is not None and relay:
        ratio = product / relay
    return {"figure": figure, "metric": metric, "product": product, "relay": relay, "ratio": ratio,
            "target": target, "met": met, **extra}
