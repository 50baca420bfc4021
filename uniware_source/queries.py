"""SQL people ask of Uniware data, written once for DuckDB and PostgreSQL alike.

Each query reads the tables the source loads; `{dataset}` is the dataset (schema) name. Days are
India days, since that is how the business counts them.
"""

from __future__ import annotations

QUERIES: dict[str, str] = {
    "sales_per_day": """
SELECT CAST(created AT TIME ZONE 'Asia/Kolkata' AS DATE) AS order_day,
       channel_name AS channel,
       facility,
       COUNT(DISTINCT sale_order_code) AS orders,
       COUNT(*) AS items,
       SUM(selling_price) AS revenue
FROM {dataset}.sale_orders
WHERE sale_order_item_status <> 'CANCELLED'
GROUP BY 1, 2, 3
""",
    "order_item_status_funnel": """
SELECT sale_order_item_status AS status,
       COUNT(*) AS items,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 1) AS pct_of_items
FROM {dataset}.sale_orders
GROUP BY 1
""",
    "returns_rate": """
SELECT s.channel_name AS channel,
       COUNT(*) AS items_sold,
       COUNT(r.item_sku_code) AS items_returned,
       ROUND(100.0 * COUNT(r.item_sku_code) / NULLIF(COUNT(*), 0), 2) AS return_rate_pct
FROM {dataset}.sale_orders AS s
LEFT JOIN {dataset}.return_invoices AS r
  ON r.sale_order_item_code = s.sale_order_item_code
WHERE s.sale_order_item_status <> 'CANCELLED'
GROUP BY 1
""",
    "stock_on_hand": """
SELECT facility,
       COUNT(*) AS skus,
       SUM(inventory) AS units_on_hand,
       SUM(open_sale) AS units_reserved,
       SUM(inventory - open_sale) AS units_available,
       SUM(CASE WHEN inventory - open_sale <= 0 THEN 1 ELSE 0 END) AS skus_out_of_stock
FROM {dataset}.inventory_snapshot
GROUP BY 1
""",
    "job_health": """
SELECT export_name,
       COUNT(*) AS jobs,
       SUM(CASE WHEN loaded THEN 1 ELSE 0 END) AS loaded,
       SUM(CASE WHEN failed THEN 1 ELSE 0 END) AS failed,
       ROUND(CAST(AVG(seconds) AS NUMERIC), 1) AS avg_seconds,
       ROUND(CAST(MAX(seconds) AS NUMERIC), 1) AS max_seconds,
       MAX(polls) AS max_polls,
       SUM(rows_in_file) AS rows_exported
FROM (
    SELECT export_name, job_code,
           MAX(CASE WHEN status IN ('LOADED', 'EMPTY') THEN 1 ELSE 0 END) = 1 AS loaded,
           MAX(CASE WHEN status IN ('FAILED', 'CANCELLED', 'ERROR', 'LOST', 'DOWNLOAD_FAILED', 'INVALID_FILE',
                                    'PARSE_FAILED', 'ABANDONED') THEN 1 ELSE 0 END) = 1 AS failed,
           EXTRACT(EPOCH FROM MAX(CASE WHEN status IN ('LOADED', 'EMPTY') THEN observed_at END)
                              - MIN(CASE WHEN status IN ('CREATED', 'ADOPTED') THEN observed_at END)) AS seconds,
           MAX(polls) AS polls,
           MAX(rows_in_file) AS rows_in_file
    FROM {dataset}.export_job_status
    WHERE job_code IS NOT NULL
    GROUP BY 1, 2
) AS jobs
GROUP BY 1
""",
}

# Which tables each query needs, so views are only made where the data exists.
REQUIRES: dict[str, tuple[str, ...]] = {
    "sales_per_day": ("sale_orders",),
    "order_item_status_funnel": ("sale_orders",),
    "returns_rate": ("sale_orders", "return_invoices"),
    "stock_on_hand": ("inventory_snapshot",),
    "job_health": ("export_job_status",),
}


def query(name: str, dataset: str) -> str:
    """The SQL of query `name` against `dataset`."""
    return QUERIES[name].format(dataset=dataset).strip()
