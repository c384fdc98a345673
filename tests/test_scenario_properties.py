"""Property: any valid scenario survives to_dict -> from_dict unchanged (the JSON report records it)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lbalgo.scenario import from_dict

positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)

arrivals = st.one_of(
    st.builds(lambda r: {"model": "poisson", "rate": r}, positive),
    st.builds(lambda r: {"model": "constant", "rate": r}, positive),
    st.builds(lambda r, a, b: {"model": "onoff", "rate": r, "mean_on": a, "mean_off": b},
              positive, positive, positive),
)
lifetimes = st.one_of(
    st.builds(lambda m: {"model": "exponential", "mean": m}, positive),
    st.builds(lambda m, s: {"model": "lognormal", "mean": m, "sigma": s}, positive, positive),
    st.builds(lambda a, m: {"model": "pareto", "alpha": 1 + a, "mean": m}, positive, positive),
    st.builds(lambda v: {"model": "constant", "value": v}, positive),
)
population = st.one_of(
    st.builds(lambda c, e: {"model": "zipf", "count": c, "exponent": e},
              st.integers(1, 10**6), st.floats(0, 10, allow_nan=False)),
    st.builds(lambda c: {"model": "uniform", "count": c}, st.integers(1, 10**6)),
)


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 8))
    weights = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n).filter(any))
    data = {"name": draw(st.text(min_size=1, max_size=10)), "seed": draw(st.integers(0, 2**40)),
            "connections": draw(st.integers(1, 10**7)), "pool": {"weights": weights},
            "arrivals": draw(arrivals), "lifetimes": draw(lifetimes), "clients": draw(population),
            "destinations": draw(population),
            "service": {"model": draw(st.sampled_from(["infinite", "fifo", "ps"])),
                        "servers": draw(st.one_of(st.just("weight"), st.integers(1, 64))),
                        "samples": draw(st.integers(2, 1000))},
            "algorithms": draw(st.lists(st.sampled_from(["rr", "wrr", "wlc", "sh", "mh", "random"]),
                                        unique=True, max_size=4))}
    events = []
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["quiesce", "weight", "thresholds"]))
        event = {"at": draw(st.one_of(positive, st.just("50%"))), "action": action,
                 "backend": draw(st.integers(0, n - 1))}
        if action == "weight":
            event["weight"] = draw(st.integers(0, 100))
        if action == "thresholds":
            event.update(upper=draw(st.integers(0, 100)), lower=0)
        events.append(event)
    data["events"] = events
    return data


@settings(max_examples=150)
@given(scenarios())
def test_to_dict_from_dict_round_trip(data):
    sc = from_dict(data, "x")
    again = from_dict(json.loads(json.dumps(sc.to_dict())), "x")  # through JSON, as the report stores it
    assert again == sc
    assert again.to_dict() == sc.to_dict()
