"""Schedulers by short name, as IPVS looks them up (``ip_vs_sched_getbyname``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .base import Scheduler

S = TypeVar("S", bound="type[Scheduler]")

SCHEDULERS: dict[str, type[Scheduler]] = {}
ALIASES: dict[str, str] = {
    "roundrobin": "rr",
    "round-robin": "rr",
    "weighted-round-robin": "wrr",
    "nft": "nftables",
    "iptables-random": "iptables",
}


def register(cls: S) -> S:
    """Class decorator: make ``cls`` available as ``lbalgo.get(cls.name)``."""
    name = cls.name
    if not name or name != name.lower():
        raise ValueError(f"{cls.__name__}.name must be a lower-case short name, got {name!r}")
    if name in SCHEDULERS and SCHEDULERS[name] is not cls:
        raise ValueError(f"two schedulers are named {name!r}: {SCHEDULERS[name].__name__} and {cls.__name__}")
    SCHEDULERS[name] = cls
    return cls


def get(name: str) -> type[Scheduler]:
    """Return the scheduler class registered as ``name`` (e.g. ``"wrr"``).

    Raises :class:`~lbalgo.errors.UnknownAlgorithm` (a ``KeyError``) naming the known
    schedulers when there is none.
    """
    from ..errors import InvalidArgumentType, UnknownAlgorithm, short

    if not isinstance(name, str):
        raise InvalidArgumentType(f"scheduler name must be a string, got {short(name)}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key.startswith("ipvs-") and key[5:] in SCHEDULERS and SCHEDULERS[key[5:]].family == "Linux IPVS":
        key = key[5:]  # "ipvs-rr": the IPVS scheduler, spelled as kube-proxy's --ipvs-scheduler docs do
    try:
        return SCHEDULERS[key]
    except KeyError:
        known = ", ".join(sorted(SCHEDULERS))
        raise UnknownAlgorithm(f"no scheduler named {short(name)}; known: {known}") from None


def names() -> list[str]:
    """Short names of every registered scheduler, in registration order."""
    return list(SCHEDULERS)
