"""SQL people ask of Uniware data, written once for DuckDB and PostgreSQL alike.

Each query reads the tables the source loads; `{dataset}` is the dataset (schema) name. Days are
India days, since that is how the business counts them. `create_views` makes each one a view
(`v_<name>`) in the dataset, for BI tools and SQL consoles. Sums of whole numbers are cast to BIGINT:
DuckDB sums them as HUGEINT, PostgreSQL as bigint or numeric, and a view has one type on both. Files
leave cells blank (NULL): an item without a status is not a cancelled one, a blank count is none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .history import HISTORY_TABLE
from .problems import explain
from .statuses import JOB_LANDED, JOB_PROBLEMS, JOB_STARTED, sql_list

QUERIES: dict[str, str] = {
    "sales_per_day": """
SELECT CAST(created AT TIME ZONE 'Asia/Kolkata' AS DATE) AS order_day,
       channel_name AS channel,
       facility,
       {sale_orders_facility} AS facility_code,
       COUNT(DISTINCT sale_order_code) AS orders,
       COUNT(*) AS items,
       SUM(selling_price) AS revenue
FROM {dataset}.sale_orders
WHERE sale_order_item_status IS DISTINCT FROM 'CANCELLED'
GROUP BY 1, 2, 3, 4
""",
    "order_item_status_funnel": """
SELECT sale_order_item_status AS status,
       COUNT(*) AS items,
       {pct_of_items} AS pct_of_items
FROM {dataset}.sale_orders
GROUP BY 1
""",
    # Items and orders have their own status lists (the order's are not documented): the items counted
    # apart are those whose own status is CANCELLED, whatever their order's status.
    "order_status": """
SELECT sale_order_status AS status,
       COUNT(DISTINCT sale_order_code) AS orders,
       COUNT(*) AS items,
       CAST(SUM(CASE WHEN sale_order_item_status = 'CANCELLED' THEN 1 ELSE 0 END) AS BIGINT) AS items_cancelled
FROM {dataset}.sale_orders
GROUP BY 1
""",
    # Sale Orders has a row per unit sold, Return Invoices a row per invoice and SKU with its Quantity and
    # no Sale Order Item Code: units are counted per invoice and SKU on both sides, and a return counts at
    # most the units that invoice sold of that SKU. Each facility numbers its invoices, so two facilities
    # may both have INV/0001: a return matches the invoice of its own facility, or of another facility
    # where only one facility sold that invoice and SKU (a return received elsewhere).
    "returns_rate": """
WITH sold AS (
  SELECT channel_name, {sale_orders_facility} AS facility, invoice_code, item_sku_code, COUNT(*) AS units
  FROM {dataset}.sale_orders
  WHERE sale_order_item_status IS DISTINCT FROM 'CANCELLED'
  GROUP BY 1, 2, 3, 4
), sellers AS (
  SELECT invoice_code, item_sku_code, COUNT(DISTINCT facility) AS facilities
  FROM sold
  GROUP BY 1, 2
), returned AS (
  SELECT {return_invoices_facility} AS facility, invoice_code, item_sku_code, SUM(COALESCE(quantity, 1)) AS units
  FROM {dataset}.return_invoices
  GROUP BY 1, 2, 3
), per_line AS (
  SELECT s.channel_name, s.units AS sold, LEAST(COALESCE(SUM(r.units), 0), s.units) AS returned
  FROM sold AS s
  LEFT JOIN sellers AS k ON k.invoice_code = s.invoice_code AND k.item_sku_code = s.item_sku_code
  LEFT JOIN returned AS r
    ON r.invoice_code = s.invoice_code AND r.item_sku_code = s.item_sku_code
   AND (r.facility = s.facility OR k.facilities <= 1)  -- 0: sold rows of no known facility (a job by code)
  GROUP BY s.channel_name, s.facility, s.invoice_code, s.item_sku_code, s.units
)
SELECT channel_name AS channel,
       CAST(SUM(sold) AS BIGINT) AS items_sold,
       CAST(SUM(returned) AS BIGINT) AS items_returned,
       {return_rate_pct} AS return_rate_pct
FROM per_line
GROUP BY 1
""",
    "stock_on_hand": """
SELECT facility,
       _uniware_facility AS facility_code,
       COUNT(*) AS skus,
       CAST(SUM(inventory) AS BIGINT) AS units_on_hand,
       CAST(SUM(open_sale) AS BIGINT) AS units_reserved,
       CAST(SUM(COALESCE(inventory, 0) - COALESCE(open_sale, 0)) AS BIGINT) AS units_available,
       CAST(SUM(CASE WHEN COALESCE(inventory, 0) - COALESCE(open_sale, 0) <= 0 THEN 1 ELSE 0 END) AS BIGINT)
         AS skus_out_of_stock
FROM {dataset}.inventory_snapshot
GROUP BY 1, 2
""",
    "job_runs": """
SELECT job_code,
       MIN(export_name) AS export_name,
       MIN(facility) AS facility,
       MIN(window_start) AS window_start,
       MIN(window_end) AS window_end,
       MIN(CASE WHEN status IN ({job_started}) THEN observed_at END) AS created_at,
       MAX(CASE WHEN status IN ({job_landed}) THEN observed_at END) AS loaded_at,
       CAST(EXTRACT(EPOCH FROM MAX(CASE WHEN status IN ({job_landed}) THEN observed_at END)
                               - MIN(CASE WHEN status IN ({job_started}) THEN observed_at END))
            AS NUMERIC(18, 3)) AS seconds,
       MAX(CASE WHEN status IN ({job_landed}) THEN 1 ELSE 0 END) = 1 AS loaded,
       MAX(CASE WHEN status IN ({job_problems}) THEN 1 ELSE 0 END) = 1 AS had_problem,
       MAX(seq) AS observations,
       MAX(polls) AS polls,
       MAX(rows_in_file) AS rows_in_file,
       MAX(rows_skipped) AS rows_skipped,
       MAX(file_bytes) AS file_bytes
FROM {dataset}.export_job_status
WHERE job_code IS NOT NULL
GROUP BY 1
""",
    "job_health": """
SELECT export_name,
       COUNT(*) AS jobs,
       CAST(SUM(CASE WHEN loaded THEN 1 ELSE 0 END) AS BIGINT) AS loaded,
       CAST(SUM(CASE WHEN had_problem AND NOT loaded THEN 1 ELSE 0 END) AS BIGINT) AS not_loaded,
       CAST(ROUND(CAST(AVG(seconds) AS NUMERIC(18, 3)), 1) AS NUMERIC(18, 1)) AS avg_seconds,
       CAST(ROUND(CAST(MAX(seconds) AS NUMERIC(18, 3)), 1) AS NUMERIC(18, 1)) AS max_seconds,
       MAX(polls) AS max_polls,
       CAST(SUM(rows_in_file) AS BIGINT) AS rows_exported,
       CAST(ROUND(CAST(AVG(rows_in_file) AS NUMERIC(18, 3)), 0) AS NUMERIC(18, 0)) AS avg_rows_per_job
FROM ({job_runs}) AS job_runs
GROUP BY 1
""",
}

# Which tables each query needs, so views are only made where the data exists.
REQUIRES: dict[str, tuple[str, ...]] = {
    "sales_per_day": ("sale_orders",),
    "order_item_status_funnel": ("sale_orders",),
    "order_status": ("sale_orders",),
    "returns_rate": ("sale_orders", "return_invoices"),
    "stock_on_hand": ("inventory_snapshot",),
    "job_runs": ("export_job_status",),
    "job_health": ("export_job_status",),
}
# The columns of those tables each query reads (an export configured with fewer columns gets no view).
REQUIRES_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "sales_per_day": {"sale_orders": ("created", "channel_name", "facility", "sale_order_code", "selling_price",
                                      "sale_order_item_status", "_uniware_facility")},
    "order_item_status_funnel": {"sale_orders": ("sale_order_item_status",)},
    "order_status": {"sale_orders": ("sale_order_status", "sale_order_item_status", "sale_order_code")},
    "returns_rate": {"sale_orders": ("channel_name", "invoice_code", "item_sku_code", "sale_order_item_status",
                                     "_uniware_facility"),
                     "return_invoices": ("invoice_code", "item_sku_code", "quantity", "_uniware_facility")},
    "stock_on_hand": {"inventory_snapshot": ("facility", "inventory", "open_sale", "_uniware_facility")},
}


def percent(part: str, whole: str, places: int) -> str:
    """`100 * part / whole` rounded half up to `places` decimals, the same on DuckDB and PostgreSQL: in whole
    numbers (DuckDB divides in floating point, so `ROUND(100.0 * 201 / 20000, 2)` gave 1.00 there and 1.01 on
    PostgreSQL); NULL where `whole` is 0. `part` and `whole` are SQL of whole, non-negative numbers (exact
    while `200 * 10**places * part` stays below 2**53: DuckDB's last division is in floating point)."""
    scale = 100 * 10 ** places
    part, whole = f"CAST({part} AS BIGINT)", f"CAST({whole} AS BIGINT)"  # literals would be 32-bit on DuckDB
    numerator, denominator = f"(2 * {scale} * {part} + {whole})", f"NULLIF(2 * {whole}, 0)"
    steps = f"CAST(({numerator} - {numerator} % {denominator}) / {denominator} AS BIGINT)"  # exact quotient
    return f"CAST({steps} / {10 ** places}.0 AS NUMERIC(6, {places}))"


# the history statuses the job views group by, from statuses.py; the percentages, rounded alike
STATUS_LISTS = {"job_started": sql_list(JOB_STARTED), "job_landed": sql_list(JOB_LANDED),
                "job_problems": sql_list(JOB_PROBLEMS),
                "pct_of_items": percent("COUNT(*)", "SUM(COUNT(*)) OVER ()", 1),
                "return_rate_pct": percent("SUM(returned)", "SUM(sold)", 2)}


# a row's facility: its own `Facility Code` where the table has that column and the row a code (a report over
# several facilities, a tenant's "All Facility" copy: rows of other facilities than the job's), else the code
# of the facility its job ran under; the row's code in another case or with blanks is the job's
ROW_FACILITY = ("CASE WHEN facility_code IS NULL OR TRIM(facility_code) = '' OR UPPER(TRIM(facility_code)) = "
                "UPPER(_uniware_facility) THEN _uniware_facility ELSE TRIM(facility_code) END")
ROW_CODE_TABLES = ("sale_orders", "return_invoices")


def query(name: str, dataset: str, row_codes: Sequence[str] = ()) -> str:
    """The SQL of query `name` against `dataset`; `row_codes`: the tables of ROW_CODE_TABLES that have the
    `facility_code` column (their rows' facility is then their own code, ROW_FACILITY)."""
    job_runs = QUERIES["job_runs"].format(dataset=dataset, **STATUS_LISTS)
    facilities = {f"{table}_facility": ROW_FACILITY if table in row_codes else "_uniware_facility"
                  for table in ROW_CODE_TABLES}
    return QUERIES[name].format(dataset=dataset, job_runs=job_runs, **STATUS_LISTS, **facilities).strip()


def create_views(pipeline: Any) -> list[str]:
    """Create or replace `v_<query>` views in the pipeline's dataset for every query whose tables and
    columns exist; returns the names of the views made. Works on DuckDB and PostgreSQL."""
    made = []
    with pipeline.sql_client() as client:
        dataset = client.fully_qualified_dataset_name()
        # the tables and columns as the destination has them (dlt's schema in a pipeline object may be
        # older than the load: Dagster's dlt resource runs its own)
        found: dict[str, set[str]] = {}
        for table, column in client.execute_sql(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
                client.dataset_name) or []:
            found.setdefault(str(table), set()).add(str(column))
        for name, tables in REQUIRES.items():
            if not set(tables) <= set(found):
                continue
            if any(not set(columns) <= found[table] for table, columns in REQUIRES_COLUMNS.get(name, {}).items()):
                continue
            view = client.make_qualified_table_name(f"v_{name}")
            client.execute_sql(f"DROP VIEW IF EXISTS {view}")
            row_codes = [table for table in ROW_CODE_TABLES if "facility_code" in found.get(table, set())]
            client.execute_sql(f"CREATE VIEW {view} AS {query(name, dataset, row_codes)}")
            made.append(f"v_{name}")
    return made


def refresh_views(pipeline: Any) -> None:
    """(Re)create the v_* SQL views on SQL destinations after a load (the pipeline script's run, a Dagster
    collect); a failure here never fails the load."""
    if pipeline.destination is None or pipeline.destination.destination_type.endswith("filesystem"):
        return
    if not pipeline.default_schema_name or HISTORY_TABLE not in pipeline.default_schema.tables:
        return
    try:
        create_views(pipeline)
    except Exception as error:  # the data is loaded; say why the views are missing and go on
        logging.getLogger("uniware_source.progress").warning("could not create the SQL views: %s",
                                                             explain(error)[1].removeprefix("error: "))
