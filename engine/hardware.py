"""Accelerators and their networks, as plain frozen dataclasses.

Units (see resources/chips.csv and ../shared/reference/CHIPS.md): compute in dense TFLOP/s,
memory in GB and GB/s, every link bandwidth in GB/s per direction per chip, power in watts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# What serving can hold weights and the KV cache in (engine.inference; the Forecast's demand).
SERVE_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4", "fp4")
KV_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")

# Bytes per element stored for the dtypes the engine understands, scales included. 4-bit formats
# carry a scale per small block, which is not negligible: fp4 is NVFP4 (one FP8 scale per 16
# values: 4.5 bits; MXFP4's E8M0 scale per 32 would be 4.25), int4 the AWQ/GPTQ group-128 form
# (an FP16 scale and a 4-bit zero point per 128 values: 4.156 bits). Counted at a flat 0.5 bytes,
# a 70B model's FP4 weights read 35.8 GiB where NVFP4 stores 39.8. 8-bit formats' per-channel or
# per-tensor scales are negligible.
DTYPE_BYTES: Mapping[str, float] = MappingProxyType(
    {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
     "int4": (4 + (16 + 4) / 128) / 8, "fp4": (4 + 8 / 16) / 8}
)


GB_PER_GIB = 2.0 ** 30 / 1e9   # decimal gigabytes in one gibibyte (1.0737)
# A chip's years of use: its list price is written off over them (a training run's cost, the plan's
# cost per token) and the fleet retires it after them. One figure, so a report never prices one
# chip over two lives (the training cost used 4 years beside the plan's 5).
CHIP_LIFE_YEARS = 5.0

@dataclass(frozen=True)
class Chip:
    id: str
    vendor: str
    name: str
    year: int | None = None
    fp32_tflops: float | None = None
    tf32_tflops: float | None = None
    bf16_tflops: float | None = None
    fp16_tflops: float | None = None
    fp8_tflops: float | None = None
    int8_tops: float | None = None
    hbm_gb: float | None = None
    hbm_gbps: float | None = None
    scaleup_name: str = ""
    scaleup_gbps: float | None = None
    scaleup_domain: int | None = None
    chips_per_node: int | None = None
    scaleout_gbps: float | None = None
    tdp_w: float | None = None
    price_usd: float | None = None
    china_market: str = ""
    confidence: str = ""
    sources: str = ""
    notes: str = ""
    # Network topology (engine/topology.py): scale-up fabric kind (switch | mesh | torus; blank =
    # switch), one link's bandwidth per direction (mesh: per pair of chips), and the scale-out
    # fabric's oversubscription (blank = 1, non-blocking).
    scaleup_topology: str = ""
    scaleup_link_gbps: float | None = None
    scaleout_oversubscription: float | None = None
    fp4_tflops: float | None = None  # dense FP4 (NVFP4/MXFP4) matrix rate; None where the part has none
    # The id of the catalog chip whose packaged calibration scopes this chip takes (a copy of the
    # H100 under another id: h100-sxm5-80gb); blank: matched by its own id. Set by the user, never
    # guessed from an id or a name, so a rename never changes a result.
    calibrate_as: str = ""
    # Efficiency factors and overheads (name -> value), resolved from the calibration table.
    calibration: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def peak_tflops(self, dtype: str) -> float | None:
        """Dense peak for GEMMs in `dtype`; None when the chip lacks that dtype.

        bf16 and fp16 share a rate on every catalogued part that has both; a chip with only
        one of them (Ascend 910A: fp16) serves 16-bit work at that rate.
        """
        if dtype in ("bf16", "fp16"):
            own = self.bf16_tflops if dtype == "bf16" else self.fp16_tflops
            other = self.fp16_tflops if dtype == "bf16" else self.bf16_tflops
            return (own or other) or None   # 0 in both columns: no 16-bit rate
        if dtype == "fp8":
            return self.fp8_tflops or None
        if dtype in ("int8", "int4"):
            return self.int8_tops or None
        if dtype == "fp4":
            return self.fp4_tflops or None
        if dtype == "tf32":
            return self.tf32_tflops or None
        if dtype == "fp32":
            return self.fp32_tflops or None
        raise ValueError(f"unknown dtype {dtype!r}")

    @property
    def hbm_gib(self) -> float | None:
        """HBM capacity in GiB. The catalog's `hbm_gb` is the vendor label, and every label in it
        counts binary units ("80 GB" on an H100 is 80 GiB of HBM3): one unit for every engine."""
        return self.hbm_gb

    @property
    def hbm_bytes(self) -> float:
        """HBM capacity in bytes (0 when unknown)."""
        return float(self.hbm_gb or 0.0) * 2.0 ** 30

    def factor(self, name: str, default: float) -> float:
        """A calibration factor of this chip, or `default` when none is stored."""
        value = self.calibration.get(name)
        return default if value is None else float(value)

    def with_calibration(self, **factors: float) -> "Chip":
        from dataclasses import replace

        merged = dict(self.calibration)
        merged.update(factors)
        return replace(self, calibration=MappingProxyType(merged))
