"""GPU drivers: the NVIDIA driver branch each cloud's GPU node image installs (by the setting a
stack chooses), and the driver a Triton container's CUDA needs, natively or through CUDA forward
compatibility, which NVIDIA supports on data-centre GPUs and listed branches only.

`data/gpu_drivers.csv` (per cloud and setting), `data/triton_drivers.csv` (per NGC release, from
NVIDIA's release notes) and `data/data_center_gpus.csv`; a source and a date on every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from components.catalog import Provenance, _parse


@dataclass(frozen=True)
class GpuDriver:
    """The driver branch a cloud's GPU node image installs for one setting."""

    cloud: str
    setting: str
    node_image: str
    branch: int
    note: str
    provenance: Provenance


@dataclass(frozen=True)
class DriverRequirement:
    """What an NGC release's CUDA needs: a minimum branch, or a forward-compatible branch on a
    data-centre GPU."""

    ngc_release: str
    cuda: str
    min_branch: int
    compat_branches: tuple[int, ...]
    note: str
    provenance: Provenance

    def problem(self, branch: int, gpu_model: str) -> str | None:
        """Why driver `branch` cannot run this release on `gpu_model`, or None when it can."""
        if branch >= self.min_branch:
            return None
        if branch in self.compat_branches and gpu_model in data_center_gpus():
            return None
        compat = " ".join(f"R{b}" for b in self.compat_branches)
        return (
            f"driver R{branch} is below R{self.min_branch}, which CUDA {self.cuda} "
            f"(NGC {self.ngc_release}) needs, and is not a forward-compatible branch "
            f"({compat}) on a data-centre GPU ({gpu_model or 'no GPU model'})"
        )


@cache
def gpu_drivers() -> dict[tuple[str, str], GpuDriver]:
    """Driver branches by (cloud, setting): an EKS AMI type, AKS `gpu_profile.driver`, GKE
    `gpu_driver_version`."""
    rows = _parse(
        "gpu_drivers.csv",
        lambda r, p: GpuDriver(
            r["cloud"], r["setting"], r["node_image"], int(r["driver_branch"]), r["note"], p
        ),
    )
    return {(d.cloud, d.setting): d for d in rows}


@cache
def driver_requirements() -> dict[str, DriverRequirement]:
    """Driver requirements by NGC release (`24.10`)."""
    rows = _parse(
        "triton_drivers.csv",
        lambda r, p: DriverRequirement(
            r["ngc_release"],
            r["cuda"],
            int(r["min_driver_branch"]),
            tuple(int(b) for b in r["compat_branches"].split()),
            r["note"],
            p,
        ),
    )
    return {d.ngc_release: d for d in rows}


@cache
def data_center_gpus() -> frozenset[str]:
    """GPU models NVIDIA counts as data-centre GPUs (where forward compatibility applies)."""
    return frozenset(_parse("data_center_gpus.csv", lambda r, _p: r["gpu_model"]))
