"""Built-in defaults for the report types seen in the field.

Headers, keys and date filters follow ../shared/uniware-api.md. Report names and column ids are
tenant-specific, so every field here can be overridden per export in the configuration, and a
report that is not listed works by configuration alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Optional

# Column types: how a CSV column (by header label) is typed on load. Unlisted columns stay text.
TEXT = "text"
TIMESTAMP = "timestamp"  # India time without offset, several formats; stored as UTC
DATE = "date"
DECIMAL = "decimal"
INTEGER = "integer"
COLUMN_TYPES = (TEXT, TIMESTAMP, DATE, DECIMAL, INTEGER)

MERGE = "merge"
REPLACE = "replace"  # snapshot reports: each facility's rows are replaced by its latest export
APPEND = "append"
WRITE_DISPOSITIONS = (MERGE, REPLACE, APPEND)


@dataclass(frozen=True)
class ExportSpec:
    """One export: which report and columns, how its rows land. The catalog's entries are the
    defaults that configuration is applied over (settings.resolve_export)."""

    name: str  # the report's exportJobTypeName
    table_name: str
    columns: tuple[str, ...]
    date_filter: Optional[str]  # the filter id that carries the window; None for snapshots
    filters: tuple[Mapping[str, Any], ...] = ()  # static extra filters
    primary_key: tuple[str, ...] = ()  # header labels of the natural key
    write_disposition: str = MERGE
    dedup_sort: Optional[str] = None  # header whose newest value wins among duplicate keys
    column_types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    facility_scoped: bool = True
    repeating_keys: bool = False  # the natural key can repeat within one file (keep every row)
    lookback: Optional[timedelta] = None  # None: the source's lookback_days

    @property
    def incremental(self) -> bool:
        return self.date_filter is not None


def _types(**by_label: str) -> Mapping[str, str]:
    return MappingProxyType(by_label)


SALE_ORDERS = ExportSpec(
    name="Sale Orders",
    table_name="sale_orders",
    # Only the column ids known from working integrations; add more per tenant in `columns`.
    columns=("soicode", "saleOrderCode", "displayorderCode", "displayOrderDateTime", "channel",
             "status", "skuCode", "sellingPrice", "created", "updated", "facility"),
    date_filter="updatedOn",
    primary_key=("Sale Order Code", "Sale Order Item Code"),
    dedup_sort="Updated",
    column_types=MappingProxyType({
        "Order Date as dd/mm/yyyy hh:MM:ss": TIMESTAMP,
        "Selling Price": DECIMAL,
        "Discount": DECIMAL,
        "Created": TIMESTAMP,
        "Updated": TIMESTAMP,
    }),
)

CATALOG: Mapping[str, ExportSpec] = MappingProxyType({r.name: r for r in (
    SALE_ORDERS,
    ExportSpec(
        name="Invoice",
        table_name="invoices",
        columns=("invoiceCode", "invoiceDate", "saleOrderCode", "channel", "skuCode", "productName",
                 "quantity", "unitPrice", "taxRate", "taxAmount", "total", "facility"),
        date_filter="dateCreatedRange",
        primary_key=("Invoice No", "SKU Code"),
        repeating_keys=True,
        column_types=MappingProxyType({
            "Invoice Date": TIMESTAMP, "Quantity": INTEGER, "Unit Price": DECIMAL,
            "Tax Rate": DECIMAL, "Tax Amount": DECIMAL, "Total": DECIMAL,
        }),
    ),
    ExportSpec(
        name="Return Invoices",
        table_name="return_invoices",
        columns=("invoiceCode", "skuCode", "saleOrderCode", "saleOrderItemCode", "reason",
                 "returnDate", "quantity", "total", "facility"),
        date_filter="addedOn",
        primary_key=("Invoice Code", "Item SKU Code"),
        column_types=_types(**{"Return Date": TIMESTAMP, "Quantity": INTEGER, "Total": DECIMAL}),
    ),
    ExportSpec(
        name="Reverse Pickup",
        table_name="reverse_pickups",
        columns=("reversePickupCode", "skuCode", "saleOrderCode", "status", "created", "updated"),
        date_filter="reversePickupDateRange",
        primary_key=("Reverse Pickup No", "Item SKU Code"),
        column_types=_types(Created=TIMESTAMP, Updated=TIMESTAMP),
    ),
    ExportSpec(
        name="Courier Returns",
        table_name="courier_returns",
        columns=("saleOrderCode", "saleOrderItemCode", "skuCode", "status", "created", "updated"),
        date_filter="soDateRange",
        primary_key=("Sale Order No", "Sale Order Item"),
        column_types=_types(Created=TIMESTAMP, Updated=TIMESTAMP),
    ),
    ExportSpec(
        name="Inventory Snapshot",
        table_name="inventory_snapshot",
        columns=("facility", "skuCode", "itemTypeName", "inventory", "openSale", "openPurchase",
                 "badInventory", "updated"),
        date_filter=None,
        primary_key=("Facility", "Item SkuCode"),
        write_disposition=REPLACE,
        column_types=_types(**{"Inventory": INTEGER, "Open Sale": INTEGER, "Open Purchase": INTEGER,
                               "Bad Inventory": INTEGER, "Updated": TIMESTAMP}),
    ),
    ExportSpec(
        name="Item Master",
        table_name="item_master",
        columns=("productCode", "componentProductCode", "name", "category", "mrp", "componentQuantity",
                 "created", "updated"),
        date_filter=None,
        primary_key=("Product Code", "Component Product Code"),
        write_disposition=REPLACE,
        facility_scoped=False,
        column_types=_types(**{"MRP": DECIMAL, "Component Quantity": INTEGER, "Created": TIMESTAMP,
                               "Updated": TIMESTAMP}),
    ),
    # No natural key is known for these: each job's rows are kept as they are, replaced as a whole
    # when the same job is loaded again (merge key _uniware_job_code); windows never overlap (no
    # lookback), so each row is added once, by its creation date. Configure a primary_key and
    # write_disposition "merge" to merge on it instead.
    ExportSpec(name="Purchase Orders", table_name="purchase_orders", columns=(),
                   date_filter="addedOn", write_disposition=APPEND, lookback=timedelta(0)),
    ExportSpec(name="GRN", table_name="grns", columns=(), date_filter="addedOn",
                   write_disposition=APPEND, lookback=timedelta(0)),
    ExportSpec(name="Tally GST", table_name="tally_gst", columns=(), date_filter="addedOn",
                   write_disposition=APPEND, lookback=timedelta(0)),
)})
