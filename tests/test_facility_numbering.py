"""Each facility numbers its documents (invoices, returns, POs, GRNs, packages), so two facilities' files may
hold one code: the code of the facility a job ran under is part of the key of such a report, and the views
join a return to its own facility's invoice (red team helper 119: a later facility's return replaced the
other's row, exit 0, and v_returns_rate counted one facility's return against another's sale)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from uniware_simulator import UniwareSimulator
from uniware_source.catalog import CATALOG
from uniware_source.errors import ConfigError
from uniware_source.queries import query

from .harness import Harness, rows_like_the_first
from .postgres import POSTGRES
from .sim_client import PlainClient

SOLD = {  # BLR01 and DEL02 both invoice INV/0001; INV/0009 is DEL02's alone
    "BLR01": [{"Sale Order Code": "SO-A", "Sale Order Item Code": f"SO-A-{n}", "Item SKU Code": "SKU-A",
               "Invoice Code": "INV/0001", "Sale Order Item Status": "DELIVERED", "Channel Name": "AMAZON"}
              for n in (1, 2)],
    "DEL02": [*({"Sale Order Code": "SO-B", "Sale Order Item Code": f"SO-B-{n}", "Item SKU Code": "SKU-A",
                 "Invoice Code": "INV/0001", "Sale Order Item Status": "DELIVERED", "Channel Name": "FLIPKART"}
                for n in (1, 2)),
              {"Sale Order Code": "SO-C", "Sale Order Item Code": "SO-C-1", "Item SKU Code": "SKU-C",
               "Invoice Code": "INV/0009", "Sale Order Item Status": "DELIVERED", "Channel Name": "FLIPKART"}],
}
RETURNED = {  # one code in both facilities' series; BLR01 also received a return of DEL02's INV/0009
    facility: [{"Invoice Code": invoice, "Return Invoice Code": code, "Item SKU Code": sku, "Quantity": quantity}
               for invoice, code, sku, quantity in lines]
    for facility, lines in {"BLR01": [("INV/0001", "RET/0001", "SKU-A", "1"), ("INV/0009", "RET/0002", "SKU-C", "1")],
                            "DEL02": [("INV/0001", "RET/0001", "SKU-A", "2")]}.items()
}


def _serve(job: Any, text: str) -> str:
    """The job's facility's rows, each the served file's first row with these labels changed."""
    rows = (SOLD if job.report.name == "Sale Orders" else RETURNED)[job.query.facility]
    return rows_like_the_first(text, rows, job.report.name)


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_two_facilities_documents_of_one_code_both_land_and_the_views_keep_them_apart(
        uniware_simulator: UniwareSimulator, tmp_path: Path, postgres_dataset: str, destination: str) -> None:
    pg = destination == "postgres"
    harness = Harness(uniware_simulator, tmp_path, name=f"numbering_{destination}",
                      destination=dlt.destinations.postgres(POSTGRES) if pg else None,
                      dataset=postgres_dataset if pg else "uniware")
    harness.sim.jobs.edit_file = _serve
    exports = ["Sale Orders", "Return Invoices"]

    def sql(text: str) -> list[tuple[Any, ...]]:
        with harness.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(text.format(ds=client.fully_qualified_dataset_name()))
                    or []]

    for facility in ("BLR01", "DEL02"):  # one facility a run, as the red team ran it
        assert not harness.run(exports=exports, facilities=[facility]).problems
        harness.sim.clock.advance(timedelta(hours=1))
    returns = sql("SELECT _uniware_facility, return_invoice_code, invoice_code, quantity "
                          "FROM {ds}.return_invoices")
    assert sorted(returns) == [("BLR01", "RET/0001", "INV/0001", 1), ("BLR01", "RET/0002", "INV/0009", 1),
                               ("DEL02", "RET/0001", "INV/0001", 2)]
    rates = {channel: (sold, returned, float(pct))
             for channel, sold, returned, pct in sql(query("returns_rate", "{ds}"))}
    # AMAZON (BLR01): 1 of 2 units; FLIPKART (DEL02): its own INV/0001 2 of 2, and INV/0009's unit returned
    # at BLR01 (DEL02 alone sold that invoice): 3 of 3
    assert rates == {"AMAZON": (2, 1, 50.0), "FLIPKART": (3, 3, 100.0)}
    harness.run(exports=exports, facilities=["BLR01", "DEL02"])  # both again, in one run: no job refused
    assert sorted(sql("SELECT _uniware_facility, return_invoice_code FROM {ds}.return_invoices")) == \
        [("BLR01", "RET/0001"), ("BLR01", "RET/0002"), ("DEL02", "RET/0001")]


def test_a_job_given_by_code_of_an_export_keyed_per_facility_needs_its_facility(
        uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    """A job given by code has no known facility; never taken from `facilities` (a job of another facility
    would take its rows' facility from the setting): the setting error says how to give it. The facility
    given is one the tenant lists, as listed: `blr01` or a made-up code keyed the rows beside the same rows
    of BLR01 (loaded twice), and a code given under two facilities took the last (red team helper 120)."""
    harness = Harness(uniware_simulator, tmp_path)
    with pytest.raises(ConfigError, match=r'job_codes.*"Return Invoices": \{"F": \["EXP1"\]\}.*--facility F'):
        harness.run(exports=["Return Invoices"], job_codes=["EXP1"], facilities=["BLR01"])
    with pytest.raises(ConfigError, match="job EXP1 is given under two facilities, BLR01 and DEL02"):
        harness.run(exports=["Return Invoices"], job_codes={"Return Invoices": {"BLR01": ["EXP1"], "DEL02": ["EXP1"]}})
    assert harness.sim.requests.count("facility") == 0
    for given, said in (("blr01", "blr01 is not a facility code of this tenant (did you mean BLR01?)"),
                        ("BLR99", "BLR99 is not a facility code of this tenant")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            harness.run(exports=["Return Invoices"], job_codes={"Return Invoices": {given: ["EXP1"]}})
    assert harness.sim.requests.count("create") == 0 and harness.sim.requests.count("status") == 0


@pytest.mark.parametrize(("argv", "given"), [
    (["--export", "Return Invoices", "--facility", "DEL02", "--job-code", "EXP1"],
     {"Return Invoices": {"DEL02": ["EXP1"]}}),
    (["--facility", "DEL02", "--job-code", "Invoice=EXP1", "--job-code", "Return Invoices=EXP2"],
     {"Invoice": {"DEL02": ["EXP1"]}, "Return Invoices": {"DEL02": ["EXP2"]}}),
    (["--export", "Return Invoices", "--facility", "BLR01,DEL02", "--job-code", "EXP1"], ["EXP1"]),  # which one?
    (["--export", "Invoice,Return Invoices", "--facility", "DEL02", "--job-code", "EXP1"], ["EXP1"]),  # whose?
])
def test_one_facility_on_the_command_line_is_the_one_its_job_codes_ran_under(
        argv: list[str], given: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--facility F --job-code C` says the job ran under F; with several facilities or exports the plain
    codes stay as given, and the setting error (above) says how to name them."""
    from uniware_source.cli import parse_args, source_overrides

    monkeypatch.setattr("uniware_source.cli.configured_exports", lambda: None)
    assert source_overrides(parse_args(argv))["job_codes"] == given


def test_two_facilities_files_of_the_same_codes_but_other_rows_both_land_in_one_run(
        uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    """Both facilities' files hold exactly the same keys (their own RET/0001 of INV/0001): taken for one file
    served twice, both jobs were refused on every run (red team helper 120). The rows tell them apart; the
    same rows for two facilities are still one file served twice (tests/test_adversarial_reuse.py)."""
    harness = Harness(uniware_simulator, tmp_path)
    same_codes = {facility: [{"Invoice Code": "INV/0001", "Return Invoice Code": "RET/0001", "Item SKU Code": "SKU-A",
                              "Quantity": quantity}] for facility, quantity in (("BLR01", "1"), ("DEL02", "2"))}
    harness.sim.jobs.edit_file = lambda job, text: rows_like_the_first(text, same_codes[job.query.facility or ""])
    assert not harness.run(exports=["Return Invoices"], facilities=["BLR01", "DEL02"]).problems
    assert sorted(harness.sql("SELECT _uniware_facility, quantity FROM {ds}.return_invoices")) == \
        [("BLR01", 1), ("DEL02", 2)]


def test_rows_an_earlier_version_loaded_without_a_facility_are_said_until_deleted(
        uniware_simulator: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A job given by code for Invoice loaded its rows without a facility before the facility joined the key:
    the facility's own export of the same invoices lands beside them (red team helper 120: each line twice, exit
    0). Each run says so, with the way out, until the rows are deleted; a view still counts the returns of sale
    orders loaded without a facility."""
    harness = Harness(uniware_simulator, tmp_path)
    client = PlainClient(harness.sim)
    client.login()
    body = {"exportJobTypeName": "Invoice", "exportColums": list(CATALOG["Invoice"].columns),
            "exportFilters": [], "frequency": "ONETIME"}
    code = client.create(body, facility="BLR01").json()["jobCode"]
    before = [{"name": "Invoice", "codes_per_facility": False}]  # as the version before keyed it
    assert not harness.run(exports=before, job_codes={"Invoice": [code]}).problems
    assert harness.sql("SELECT COUNT(*) FROM {ds}.invoices WHERE _uniware_facility IS NULL")[0][0] > 0
    caplog.set_level(logging.WARNING)
    harness.run(exports=["Invoice"], facilities=["BLR01"])
    said = [r.getMessage() for r in caplog.records if "without a facility" in r.getMessage()]
    assert said and "DELETE FROM uniware.invoices WHERE _uniware_facility IS NULL" in said[0], said
    with duckdb.connect(str(harness.database)) as connection:
        connection.execute(f"DELETE FROM {harness.dataset}.invoices WHERE _uniware_facility IS NULL")
    caplog.clear()
    harness.sim.clock.advance(timedelta(hours=1))
    harness.run(exports=["Invoice"], facilities=["BLR01"])
    assert not [r for r in caplog.records if "without a facility" in r.getMessage()]


def test_returns_count_against_sale_orders_loaded_without_a_facility(
        uniware_simulator: UniwareSimulator, tmp_path: Path) -> None:
    """Sale Orders given by code (its rows have no facility): v_returns_rate matched no return to them, 0 %
    (red team helper 120). An invoice no known facility sold matches its returns."""
    harness = Harness(uniware_simulator, tmp_path)
    harness.sim.jobs.edit_file = _serve
    client = PlainClient(harness.sim)
    client.login()
    body = {"exportJobTypeName": "Sale Orders", "exportColums": list(CATALOG["Sale Orders"].columns),
            "exportFilters": [], "frequency": "ONETIME"}
    code = client.create(body, facility="BLR01").json()["jobCode"]
    assert not harness.run(exports=["Sale Orders"], job_codes={"Sale Orders": [code]}).problems
    assert not harness.run(exports=["Return Invoices"], facilities=["BLR01"]).problems
    rates = {channel: (sold, returned) for channel, sold, returned, _ in harness.sql(query("returns_rate", "{ds}"))}
    assert rates == {"AMAZON": (2, 1)}
