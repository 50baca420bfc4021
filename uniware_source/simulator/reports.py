"""The simulated tenant's export report types: their column ids, display labels and filters.

Uniware labels its CSV headers with display names, not the requested column ids, puts them in its
own order, and sometimes adds a column nobody asked for. Each report here declares both names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .tenant import (
    IST_OFFSET_SECONDS,
    STATUS_CANCELLED,
    STATUS_CREATED,
    STATUS_PROCESSING,
    Tenant,
)

# Column kinds decide how a native value is rendered into the CSV (see csv_render.py).
TEXT = "text"
TIMESTAMP = "timestamp"  # India time, formats mixed within one column
ORDER_DATE = "order_date"  # India time, dd/mm/yyyy HH:MM:SS
MONEY = "money"  # paise, rendered as rupees with two decimals
INTEGER = "integer"
RATE = "rate"  # basis points, rendered as a percentage with two decimals


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str = TEXT


@dataclass(frozen=True)
class ExportQuery:
    """A validated export request, as the report's row generator needs it."""

    at: int  # simulated time the export snapshots (epoch seconds)
    facility: Optional[str]  # None for reports that ignore the facility
    date_filter: Optional[str] = None
    start: Optional[int] = None
    end: Optional[int] = None
    selected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


Row = dict[str, Any]
RowSource = Callable[[Tenant, ExportQuery], Iterator[Row]]


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[Column, ...]
    rows: RowSource
    date_filters: tuple[str, ...] = ()
    select_filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_columns: tuple[Column, ...] = ()  # always in the file, never requested
    facility_scoped: bool = True

    def column(self, column_id: str) -> Optional[Column]:
        return next((c for c in self.columns if c.id == column_id), None)

    def file_columns(self, requested: tuple[str, ...], with_extra: bool) -> tuple[Column, ...]:
        """Columns in file order: the report's own order, not the request's."""
        wanted = set(requested)
        chosen = tuple(c for c in self.columns if c.id in wanted)
        return chosen + (self.extra_columns if with_extra else ())


# -- Sale Orders ---------------------------------------------------------------------------------

SALE_ORDER_COLUMNS = (
    Column("soicode", "Sale Order Item Code"),
    Column("saleOrderCode", "Sale Order Code"),
    Column("displayorderCode", "Display Order Code"),
    Column("displayOrderDateTime", "Order Date as dd/mm/yyyy hh:MM:ss", ORDER_DATE),
    Column("channel", "Channel Name"),
    Column("status", "Sale Order Item Status"),
    Column("skuCode", "Item SKU Code"),
    Column("itemName", "Item Type Name"),
    Column("sellingPrice", "Selling Price", MONEY),
    Column("discount", "Discount", MONEY),
    Column("shippingAddressName", "Shipping Address Name"),
    Column("shippingAddress", "Shipping Address Line 1"),
    Column("shippingCity", "Shipping Address City"),
    Column("trackingNumber", "Tracking Number"),
    Column("cancellationReason", "Cancellation Reason"),
    Column("created", "Created", TIMESTAMP),
    Column("updated", "Updated", TIMESTAMP),
    Column("facility", "Facility"),
)
SHIPPED_STATUSES = {STATUS_CREATED, STATUS_PROCESSING, STATUS_CANCELLED}


def _sale_order_rows(
    tenant: Tenant, query: ExportQuery, only_channels: Optional[tuple[str, ...]] = None
) -> Iterator[Row]:
    date_field = "updated" if query.date_filter == "updatedOn" else "created"
    channels = query.selected.get("channelFilter") or only_channels
    if only_channels and channels:
        channels = tuple(c for c in channels if c in only_channels)
    for item, status, updated in tenant.sale_order_items(
        at=query.at,
        date_field=date_field,
        start=query.start,
        end=query.end,
        facility=query.facility,
        channels=channels,
    ):
        order = item.order
        yield {
            "soicode": item.code,
            "saleOrderCode": order.code,
            "displayorderCode": order.display_code,
            "displayOrderDateTime": order.created,
            "channel": order.channel,
            "status": status,
            "skuCode": item.sku,
            "itemName": item.product_name,
            "sellingPrice": item.selling_price_paise,
            "discount": item.discount_paise,
            "shippingAddressName": order.customer_name,
            "shippingAddress": order.address,
            "shippingCity": order.city,
            "trackingNumber": None if status in SHIPPED_STATUSES else f"AWB{order.index:010d}",
            "cancellationReason": item.cancel_reason if status == STATUS_CANCELLED else None,
            "created": order.created,
            "updated": updated,
            "facility": order.facility,
            "currency": "INR",
        }


def _b2b_sale_order_rows(tenant: Tenant, query: ExportQuery) -> Iterator[Row]:
    return _sale_order_rows(tenant, query, only_channels=("B2B_DIRECT",))


# -- Invoice -------------------------------------------------------------------------------------

INVOICE_COLUMNS = (
    Column("invoiceCode", "Invoice No"),
    Column("invoiceDate", "Invoice Date", TIMESTAMP),
    Column("saleOrderCode", "Sale Order Code"),
    Column("channel", "Channel"),
    Column("skuCode", "SKU Code"),
    Column("productName", "Product Name"),
    Column("quantity", "Quantity", INTEGER),
    Column("unitPrice", "Unit Price", MONEY),
    Column("taxRate", "Tax Rate", RATE),
    Column("taxAmount", "Tax Amount", MONEY),
    Column("total", "Total", MONEY),
    Column("facility", "Facility"),
)


def _invoice_rows(tenant: Tenant, query: ExportQuery) -> Iterator[Row]:
    for item, _line in tenant.invoice_lines(
        at=query.at, start=query.start, end=query.end, facility=query.facility
    ):
        order = item.order
        unit = item.selling_price_paise // item.quantity
        tax = unit * item.tax_rate_bp // (10000 + item.tax_rate_bp)
        year = time.gmtime(order.dispatched_at + IST_OFFSET_SECONDS).tm_year
        yield {
            "invoiceCode": f"INV/{order.facility}/{year}/{order.index:07d}",
            "invoiceDate": order.dispatched_at,
            "saleOrderCode": order.code,
            "channel": order.channel,
            "skuCode": item.sku,
            "productName": item.product_name,
            "quantity": 1,
            "unitPrice": unit,
            "taxRate": item.tax_rate_bp,
            "taxAmount": tax,
            "total": unit,
            "facility": order.facility,
            "gstin": None,
        }


# -- Return Invoices -----------------------------------------------------------------------------

RETURN_INVOICE_COLUMNS = (
    Column("invoiceCode", "Invoice Code"),
    Column("skuCode", "Item SKU Code"),
    Column("saleOrderCode", "Sale Order Code"),
    Column("saleOrderItemCode", "Sale Order Item Code"),
    Column("reason", "Return Reason"),
    Column("returnDate", "Return Date", TIMESTAMP),
    Column("quantity", "Quantity", INTEGER),
    Column("total", "Total", MONEY),
    Column("facility", "Facility"),
)


def _return_invoice_rows(tenant: Tenant, query: ExportQuery) -> Iterator[Row]:
    for item in tenant.returned_items(
        at=query.at, start=query.start, end=query.end, facility=query.facility
    ):
        order = item.order
        yield {
            "invoiceCode": f"RINV/{order.facility}/{order.index:07d}-{item.position}",
            "skuCode": item.sku,
            "saleOrderCode": order.code,
            "saleOrderItemCode": item.code,
            "reason": item.return_reason,
            "returnDate": item.returned_at,
            "quantity": item.quantity,
            "total": item.selling_price_paise,
            "facility": order.facility,
        }


# -- Inventory Snapshot --------------------------------------------------------------------------

INVENTORY_COLUMNS = (
    Column("facility", "Facility"),
    Column("skuCode", "Item SkuCode"),
    Column("itemTypeName", "Item Type Name"),
    Column("inventory", "Inventory", INTEGER),
    Column("openSale", "Open Sale", INTEGER),
    Column("openPurchase", "Open Purchase", INTEGER),
    Column("badInventory", "Bad Inventory", INTEGER),
    Column("updated", "Updated", TIMESTAMP),
)


def _inventory_rows(tenant: Tenant, query: ExportQuery) -> Iterator[Row]:
    assert query.facility is not None
    updated = tenant.inventory_updated(query.at)
    for product, inventory, open_sale, open_purchase, bad in tenant.inventory(
        at=query.at, facility=query.facility
    ):
        yield {
            "facility": query.facility,
            "skuCode": product.code,
            "itemTypeName": product.name,
            "inventory": inventory,
            "openSale": open_sale,
            "openPurchase": open_purchase,
            "badInventory": bad,
            "updated": updated,
        }


# -- Item Master ---------------------------------------------------------------------------------

ITEM_MASTER_COLUMNS = (
    Column("productCode", "Product Code"),
    Column("componentProductCode", "Component Product Code"),
    Column("name", "Name"),
    Column("category", "Category"),
    Column("mrp", "MRP", MONEY),
    Column("componentQuantity", "Component Quantity", INTEGER),
    Column("created", "Created", TIMESTAMP),
    Column("updated", "Updated", TIMESTAMP),
)


def _item_master_rows(tenant: Tenant, query: ExportQuery) -> Iterator[Row]:
    for product in tenant.products:
        if product.created > query.at:
            continue
        base = {
            "productCode": product.code,
            "name": product.name,
            "category": product.category,
            "mrp": product.mrp_at(query.at),
            "created": product.created,
            "updated": product.updated_at(query.at),
        }
        if not product.components:
            yield {**base, "componentProductCode": None, "componentQuantity": None}
        for component, quantity in product.components:
            yield {**base, "componentProductCode": component, "componentQuantity": quantity}


CHANNEL_VALUES = ("AMAZON_IN", "FLIPKART", "MYNTRA", "SHOPIFY", "MEESHO", "B2B_DIRECT")

REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            "Sale Orders",
            SALE_ORDER_COLUMNS,
            _sale_order_rows,
            date_filters=("addedOn", "updatedOn"),
            select_filters={"channelFilter": CHANNEL_VALUES},
            extra_columns=(Column("currency", "Currency"),),
        ),
        Report(
            "B2B Sale Orders",
            SALE_ORDER_COLUMNS,
            _b2b_sale_order_rows,
            date_filters=("addedOn", "updatedOn"),
            select_filters={"channelFilter": CHANNEL_VALUES},
        ),
        Report(
            "Invoice",
            INVOICE_COLUMNS,
            _invoice_rows,
            date_filters=("dateCreatedRange",),
            extra_columns=(Column("gstin", "Customer GSTIN"),),
        ),
        Report(
            "Return Invoices", RETURN_INVOICE_COLUMNS, _return_invoice_rows,
            date_filters=("addedOn",),
        ),
        Report("Inventory Snapshot", INVENTORY_COLUMNS, _inventory_rows),
        Report("Item Master", ITEM_MASTER_COLUMNS, _item_master_rows, facility_scoped=False),
    )
}
