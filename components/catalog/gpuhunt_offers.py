"""On-demand offers per region from gpuhunt, the GPU catalog library of the dstack project, for
`exitplan catalog refresh`. gpuhunt publishes each cloud's offers (GPU and general-purpose
instances, prices per region or zone) as a catalog file it downloads and parses; for AWS,
Azure, GCP and OCI those catalogs need no credentials, only the network.

`GPUHUNT_CATALOG_URL` (gpuhunt's own setting) points it at a copy of its published catalogs;
the rows still name the published catalog's URL as their source, which the copy mirrors.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from components.catalog.refresh import Offer
from components.errors import SourceUnavailableError

NAME = "gpuhunt"


TIMEOUT_S = 60.0  # gpuhunt's downloads set none: a network that drops packets would hang


@contextmanager
def _downloading() -> Iterator[None]:
    """gpuhunt's downloads under a socket timeout and without its logging: it logs a
    traceback for every provider it fails to download, those this refresh does not read
    included; the refresh reports what it needed instead."""
    logger = logging.getLogger("gpuhunt")
    level, timeout = logger.level, socket.getdefaulttimeout()
    logger.setLevel(logging.CRITICAL + 1)
    socket.setdefaulttimeout(TIMEOUT_S)
    try:
        yield
    finally:
        logger.setLevel(level)
        socket.setdefaulttimeout(timeout)


def offers(clouds: Sequence[str]) -> list[Offer]:
    """Every on-demand offer gpuhunt lists for `clouds` (its provider names are the catalog's
    cloud names); a `SourceUnavailableError` naming what is missing when a catalog cannot be
    downloaded. Calendar-mode (DWS) offers are reservations, not on-demand, and are left out."""
    import gpuhunt
    from gpuhunt._internal.catalog import CATALOG_URL  # where gpuhunt publishes its catalogs

    catalog = gpuhunt.Catalog(balance_resources=False, auto_reload=False)
    with _downloading():
        try:
            catalog.load()
        except gpuhunt.GPUHuntError as exc:
            raise SourceUnavailableError(
                f"{NAME}: could not download its catalogs ({exc.__cause__ or exc}): this needs "
                "network access to gpuhunt's published catalogs (or GPUHUNT_CATALOG_URL at a "
                "copy of them); nothing was changed"
            ) from exc
    missing = [cloud for cloud in clouds if cloud not in catalog.catalog]
    if missing:
        raise SourceUnavailableError(
            f"{NAME}: no catalog downloaded for {', '.join(missing)}: this needs network "
            "access to gpuhunt's published catalogs; nothing was changed"
        )
    found: list[Offer] = []
    for cloud in clouds:
        source = f"{CATALOG_URL}/{cloud}/{catalog.catalog[cloud].version}/catalog.zip"
        for item in catalog.query(provider=cloud, spot=False):
            if item.provider_data.get("is_dws_calendar_mode"):
                continue
            found.append(
                Offer(
                    cloud=cloud,
                    instance_type=item.instance_name,
                    gpu_name=item.gpu_name or "",
                    gpu_count=item.gpu_count,
                    location=item.location,
                    usd_per_hour=item.price,
                    source=source,
                )
            )
    return found
