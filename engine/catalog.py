"""Turning catalog rows (CSV text or store rows) into engine dataclasses.

This is the boundary between plain tabular data and `Chip`; it reads no files itself except the
packaged defaults through `resources`.
"""

from __future__ import annotations

import csv
import io
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from engine.hardware import Chip

CHIP_FLOAT_FIELDS = (
    "fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops", "fp8_tflops", "int8_tops",
    "hbm_gb", "hbm_gbps", "scaleup_gbps", "scaleout_gbps", "tdp_w", "price_usd",
    "scaleup_link_gbps", "scaleout_oversubscription", "fp4_tflops",
)
CHIP_INT_FIELDS = ("year", "scaleup_domain", "chips_per_node")
CHIP_TEXT_FIELDS = ("id", "vendor", "name", "scaleup_name", "china_market", "confidence", "sources", "notes",
                    "scaleup_topology", "calibrate_as")
CHIP_FIELDS = (
    "id", "vendor", "name", "year", "fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops",
    "fp8_tflops", "int8_tops", "hbm_gb", "hbm_gbps", "scaleup_name", "scaleup_gbps",
    "scaleup_domain", "chips_per_node", "scaleout_gbps", "tdp_w", "price_usd", "china_market",
    "confidence", "sources", "notes",
    # network topology (engine/topology.py), appended: switch | mesh | torus, one link's GB/s per
    # direction, fabric oversubscription of the scale-out tier
    "scaleup_topology", "scaleup_link_gbps", "scaleout_oversubscription", "fp4_tflops",
    # the catalog chip whose packaged calibration this one takes (engine.catalog.calibration_target)
    "calibrate_as",
)


def _number(value, kind):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return kind(float(value)) if kind is int else float(value)


def chip_from_row(row: Mapping, calibration: Mapping[str, float] | None = None) -> Chip:
    """A Chip from a dict of catalog columns (strings or numbers; blank = unknown)."""
    kwargs: dict[str, Any] = {}  # field name -> text, number or None, by the field lists above
    for name in CHIP_TEXT_FIELDS:
        kwargs[name] = (row.get(name) or "").strip() if isinstance(row.get(name), str) else (row.get(name) or "")
    for name in CHIP_FLOAT_FIELDS:
        kwargs[name] = _number(row.get(name), float)
    for name in CHIP_INT_FIELDS:
        kwargs[name] = _number(row.get(name), int)
    kwargs["calibration"] = MappingProxyType(dict(calibration or {}))
    return Chip(**kwargs)


def read_csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def calibration_target(chip: Chip | Mapping) -> str:
    """The id a chip's packaged calibration scopes (h100*, ascend-910c, ...) are matched against:
    its `calibrate_as` (the catalog chip it copies, set by the user), else its own id. Never
    guessed from the id's words or the display name: a rename must not change a result."""
    if isinstance(chip, Chip):
        return chip.calibrate_as.strip() or chip.id.strip()
    return str(chip.get("calibrate_as") or "").strip() or str(chip.get("id") or "").strip()


class CalibrateAsLoop(ValueError):
    """A chain of calibrate_as that comes back to a chip it passed (my-a -> my-b -> my-a)."""

    def __init__(self, chain: list[str]):
        self.chain = list(chain)
        super().__init__(f"calibrate_as: '{chain[1]}' makes a loop ({' -> '.join(chain)}); a chain of calibrate_as "
                         "must end at a catalog chip")


def _calibrate_as_of(row: Mapping | None) -> str:
    return str((row or {}).get("calibrate_as") or "").strip()


def calibrate_as_chain(chip_id: str, rows_by_id: Mapping[str, Mapping]) -> list[str]:
    """The chips a chip's calibration comes through: itself, the chip its calibrate_as names, that
    chip's calibrate_as, and so on (`rows_by_id`: the database's chip rows by id), up to a chip
    whose calibrate_as is blank or its own id, or an id `rows_by_id` lacks (a catalog chip deleted
    from the database: its packaged scopes still match it). A copy of a copy (my2-910b ->
    my-910b -> ascend-910b2) took the generic factors, its calibrate_as being no catalog chip.
    Raises CalibrateAsLoop when the chain comes back to a chip it passed."""
    chain = [str(chip_id).strip()]
    while True:
        target = _calibrate_as_of(rows_by_id.get(chain[-1]))
        if not target or target == chain[-1]:
            return chain
        if target in chain:
            raise CalibrateAsLoop(chain + [target])
        chain.append(target)


def calibrate_as_loop(chip_id: str, rows_by_id: Mapping[str, Mapping]) -> str | None:
    """The problem line for a calibrate_as chain from `chip_id` that loops (an import or an edit
    refuses it), else None."""
    try:
        calibrate_as_chain(chip_id, rows_by_id)
    except CalibrateAsLoop as exc:
        return str(exc)
    return None


def calibrate_as_loops(ids: Iterable[str], rows_by_id: Mapping[str, Mapping]) -> dict[str, str]:
    """{id: problem line} for the chips of `ids` whose calibrate_as chain loops, each loop named
    once, at the first of `ids` that reaches it (an import of my-a -> my-b and my-b -> my-a has
    one line to fix, not one per row)."""
    out: dict[str, str] = {}
    named: set[frozenset] = set()
    for cid in ids:
        try:
            calibrate_as_chain(cid, rows_by_id)
        except CalibrateAsLoop as exc:
            members = frozenset(exc.chain[exc.chain.index(exc.chain[-1]):])
            if members not in named:
                named.add(members)
                out[cid] = str(exc)
    return out


def chip_with_calibration(chip_id: str, rows_by_id: Mapping[str, Mapping],
                          stored_by_chip: Mapping[str, Mapping[str, float]],
                          packaged_rows: Iterable[Mapping]) -> Chip:
    """The Chip of `rows_by_id[chip_id]` with its effective calibration: the packaged scopes matched
    on the catalog chip its calibrate_as chain ends at, overlaid by this database's own factors
    (`stored_by_chip`: a --save, an edit) of every chip along the chain, the chip's own last, so
    a copy of a database chip takes the factors fitted to that chip's runs. The Chip's
    calibrate_as is that end (what calibration_target, the families and the notes read); the
    stored row keeps the id the user gave. A loop (stored before loops were refused) is taken as
    no chain: the chip's own calibrate_as and factors."""
    row = rows_by_id[chip_id]
    try:
        chain = calibrate_as_chain(chip_id, rows_by_id)
    except CalibrateAsLoop:
        chain = [chip_id]
    matched = {**row, "calibrate_as": chain[-1]} if len(chain) > 1 else row
    calibration = resolve_calibration(matched, packaged_rows)
    for cid in reversed(chain):   # the nearer chip's own factors win
        calibration.update(stored_by_chip.get(cid, {}))
    return chip_from_row(matched, calibration)


def saved_along_chain(chip_id: str, rows_by_id: Mapping[str, Mapping],
                      stored_rows: Callable[[str], Iterable[Mapping]]) -> list[dict]:
    """This database's own calibration rows that a chip takes (chip_with_calibration): its own and
    those of the chips its calibrate_as chain passes through, the nearer chip's row winning for a
    factor, each row with the `chip_id` it is stored under. `stored_rows(id)` gives one chip's."""
    try:
        chain = calibrate_as_chain(chip_id, rows_by_id)
    except CalibrateAsLoop:
        chain = [chip_id]
    taken: dict[str, dict] = {}
    for cid in reversed(chain):
        taken.update({str(r["factor"]): {**r, "chip_id": cid} for r in stored_rows(cid)})
    return sorted(taken.values(), key=lambda r: (chain.index(r["chip_id"]), str(r["factor"])))


def chips_with_calibration(rows: Iterable[Mapping], stored_by_chip: Mapping[str, Mapping[str, float]],
                           packaged_rows: Iterable[Mapping]) -> list[Chip]:
    """chip_with_calibration for every row of the database's catalog, in the rows' order."""
    rows = list(rows)
    by_id = {str(r["id"]): r for r in rows}
    packaged = list(packaged_rows)
    return [chip_with_calibration(str(r["id"]), by_id, stored_by_chip, packaged) for r in rows]


SCOPE_EXACT, SCOPE_PREFIX, SCOPE_VENDOR, SCOPE_DEFAULT = 3, 2, 1, 0


def scope_rank(scope: str, target: str, vendor: str) -> int | None:
    """How specifically `scope` names a chip matched as `target` (calibration_target) of `vendor`:
    SCOPE_EXACT .. SCOPE_DEFAULT, or None when it does not name it."""
    scope = (scope or "").strip()
    if scope == target:
        return SCOPE_EXACT
    if scope.endswith("*") and target.startswith(scope[:-1]):
        return SCOPE_PREFIX
    if scope and scope.lower() == (vendor or "").lower():
        return SCOPE_VENDOR
    return SCOPE_DEFAULT if scope == "default" else None


_CATALOG_VENDORS: dict[str, str] = {}


def catalog_vendor(chip_id: str) -> str:
    """The packaged catalog's vendor of `chip_id` ("" for an id the catalog lacks), read from the
    catalog file itself (not `reference_chips`, which resolves calibration through this module)."""
    if not _CATALOG_VENDORS:
        import resources

        _CATALOG_VENDORS.update({row["id"]: row.get("vendor") or "" for row in
                                 read_csv_rows(resources.read_text("chips.csv"))})
    return _CATALOG_VENDORS.get(chip_id, "")


def resolved_scopes(chip: Chip | Mapping, rows: Iterable[Mapping]) -> dict[str, tuple[int, str, float]]:
    """factor -> (rank, scope, value) of the scope that sets it for `chip` (resolve_calibration).
    A vendor scope is matched on the vendor of the chip its calibrate_as names, as every other scope
    is: a copy of the 910B2 under another vendor's name took NVIDIA's fused-MoE read factors and
    served MoE models at half the 910B2's rate while its note said it took the 910B2's calibration."""
    target = calibration_target(chip)
    vendor = chip.vendor if isinstance(chip, Chip) else chip.get("vendor", "")
    own_id = chip.id if isinstance(chip, Chip) else str(chip.get("id") or "")
    if target and target != own_id.strip():
        vendor = catalog_vendor(target) or vendor
    ranked: dict[str, tuple[int, str, float]] = {}
    for row in rows:
        rank = scope_rank(row.get("scope") or "", target, vendor or "")
        if rank is None:
            continue
        factor = row["factor"].strip()
        if factor not in ranked or rank >= ranked[factor][0]:
            ranked[factor] = (rank, (row.get("scope") or "").strip(), float(row["value"]))
    return ranked


def resolve_calibration(chip: Chip | Mapping, rows: Iterable[Mapping]) -> dict[str, float]:
    """Calibration factors for one chip from rows with `scope`, `factor`, `value`.

    `scope` is `default`, a vendor name, a chip-id prefix ending in `*` (e.g. `ascend-910b*`),
    or an exact chip id; the most specific scope wins (exact > prefix > vendor > default). Ids
    are matched on the chip's calibration_target: a copy whose calibrate_as is h100-sxm5-80gb
    gets exactly the H100's factors (under its own id it had the generic ones, 19% faster).
    """
    return {factor: value for factor, (_, _, value) in resolved_scopes(chip, rows).items()}


def calibration_rows() -> list[dict]:
    """Packaged default calibration rows (every resources/calibration_*.csv file)."""
    from importlib import resources

    rows: list[dict] = []
    base = resources.files("resources")
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("calibration_") and entry.name.endswith(".csv"):
            rows.extend(read_csv_rows(entry.read_text(encoding="utf-8")))
    return rows


def reference_chips() -> dict[str, Chip]:
    """The packaged catalog with packaged default calibration, keyed by chip id.

    For tests, benchmarks and validation when no database is at hand.
    """
    import resources

    cal_rows = calibration_rows()
    chips = {}
    for row in read_csv_rows(resources.read_text("chips.csv")):
        chips[row["id"]] = chip_from_row(row, resolve_calibration(row, cal_rows))
    return chips


def model_from_dict(data: Mapping):
    """A ModelConfig from a dict of its fields (unknown keys are an error the caller reports)."""
    from dataclasses import fields

    from engine.models import ModelConfig

    known = {f.name for f in fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in data.items() if k in known})


def reference_models() -> dict:
    """The packaged model presets, keyed by id."""
    import json

    import resources

    data = json.loads(resources.read_text("models.json"))
    return {m["id"]: model_from_dict(m) for m in data["models"]}
