"""The simulated tenant's export report types, in Uniware's real vocabulary.

Every report declares the column ids Uniware accepts in `exportColums` and the display label each
one gets as a CSV header, as gathered from live tenants in ../shared/uniware-reports.md (typos and
odd casing included: `ajustmentInSellingPrice`, `Cgsttin`, `paymentInstrc`, `recieveQuantity`,
`courierProvideName`, lower-case `*rate`...). Requested columns come back in request order; some
reports append columns nobody asked for (Sale Orders: Channel Shipping, Item Details).

The definitions are tables: ``id | label | kind | source``. `kind` says how a value is rendered
(csv_render.py); `source` names the attribute of the report's row record that holds the value, and
an empty source means the tenant has no such data and the cell is blank. Row records compute their
attributes lazily, so only requested columns cost anything.

Reports with no known ids in the field (GRN, Shipping Package) use ids marked ASSUMED below.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Optional

from .tenant import (
    CITY_STATES,
    HOUR,
    IST_OFFSET_SECONDS,
    MINUTE,
    SHIPPING_PROVIDERS,
    STATUS_CANCELLED,
    STATUS_CREATED,
    STATUS_DELIVERED,
    STATUS_DISPATCHED,
    STATUS_FULFILLABLE,
    STATUS_RETURN_EXPECTED,
    STATUS_RETURNED,
    Order,
    OrderItem,
    Product,
    PurchaseOrderLine,
    SaleOrderLine,
    Tenant,
    mix64,
)

# Column kinds decide how a native value is rendered into the CSV (see csv_render.py).
TEXT = "text"
# India time `YYYY-MM-DD HH:mm:ss`, sometimes `YYYY-MM-DD HH:mm` or `DD-MM-YYYY HH:mm` in the same column
TIMESTAMP = "timestamp"
MONEY = "money"  # paise, rendered as a plain decimal with two places
INTEGER = "integer"
RATE = "rate"  # basis points, rendered as a percentage with two decimals
GRAMS = "grams"  # whole units rendered with three decimals (Weight `158400.000`, lengths in mm)
FLAG = "flag"  # 0/1 (COD)
BOOLEAN = "boolean"  # true/false (On Hold)
FACTOR = "factor"  # a Decimal written as it is, all its places (Currency Conversion Rate 0.01198765)
KINDS = (TEXT, TIMESTAMP, MONEY, INTEGER, RATE, GRAMS, FLAG, BOOLEAN, FACTOR)


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str = TEXT
    source: Optional[str] = None  # attribute of the row record; None: always blank

    def value(self, record: Any) -> Any:
        return getattr(record, self.source) if self.source else None


UNSEEN_LABEL = "—"  # uniware-reports.md's mark for an id whose header label no source has shown


def columns(table: str) -> tuple[Column, ...]:
    """Parse ``id | label | kind | source`` lines (kind defaults to text, source to none). A label of "—"
    (never seen in the field) is served as the id itself: a placeholder, not an English label made up."""
    parsed = []
    for line in table.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")] + ["", ""]
        column_id, label, kind, source = parts[0], parts[1], parts[2] or TEXT, parts[3] or None
        label = column_id if label == UNSEEN_LABEL else label
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} for {column_id}")
        parsed.append(Column(column_id, label, kind, source))
    ids = [c.id for c in parsed]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate column ids in {ids}")
    return tuple(parsed)


@dataclass(frozen=True)
class ExportQuery:
    """A validated export request, as the report's row generator needs it."""

    at: int  # simulated time the export snapshots (epoch seconds)
    facility: Optional[str]  # None for reports that ignore the facility
    date_filter: Optional[str] = None
    start: Optional[int] = None
    end: Optional[int] = None
    selected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    text: Mapping[str, str] = field(default_factory=dict)  # text filters (Item Master `name`)
    ignored: tuple[str, ...] = ()  # filter ids the request gave that the export ignores (unknown_filter)


RowSource = Callable[[Tenant, ExportQuery], Iterator[Any]]


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[Column, ...]
    rows: RowSource
    date_filters: tuple[str, ...] = ()
    date_required: bool = False  # one of `date_filters` must be given (B2B Sale Orders, Tally Return GST)
    select_filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    other_filters: tuple[str, ...] = ()  # accepted: text, boolean and free multi-select filters
    extra_columns: tuple[Column, ...] = ()  # always in the file after the requested ones, never requested
    facility_scoped: bool = True
    assumed_ids: bool = False  # no column id of this report was ever seen in the field

    def column(self, column_id: str) -> Optional[Column]:
        return self._by_id.get(column_id)

    @cached_property
    def _by_id(self) -> dict[str, Column]:
        return {c.id: c for c in self.columns}

    @property
    def filter_ids(self) -> tuple[str, ...]:
        return (*self.date_filters, *self.select_filters, *self.other_filters)

    def file_columns(self, requested: tuple[str, ...], with_extra: bool) -> tuple[Column, ...]:
        """Columns in file order: the requested ones in request order (a repeated id once), then the
        unrequested extra columns whose label is not already there."""
        chosen = tuple(self._by_id[c] for c in dict.fromkeys(requested) if c in self._by_id)
        if not with_extra:
            return chosen
        labels = {c.label for c in chosen}
        return chosen + tuple(c for c in self.extra_columns if c.label not in labels)


# a few orders (cross-border channels) are in another currency: (currency, its rate to INR as Uniware writes it)
FOREIGN_CURRENCIES: tuple[tuple[str, Decimal], ...] = (("USD", Decimal("0.01198765")), ("AED", Decimal("0.04402918")))


def _ist_year(epoch: int) -> int:
    return time.gmtime(epoch + IST_OFFSET_SECONDS).tm_year


def _split_tax(price: int, rate_bp: int, same_state: bool) -> tuple[int, int, int]:
    """(cgst, sgst, igst) in paise of a tax-inclusive price."""
    tax = price * rate_bp // (10000 + rate_bp)
    if same_state:
        return tax // 2, tax - tax // 2, 0
    return 0, 0, tax


def invoice_code(order: Order) -> str:
    return f"INV/{order.facility}/{_ist_year(order.dispatched_at)}/{order.index:07d}"


def hsn_of(product: Optional[Product]) -> Optional[str]:
    if product is None:
        return None
    return {"Apparel": "6211", "Home & Kitchen": "7323", "Footwear": "6404", "Beauty": "3305",
            "Grocery": "0405"}.get(product.category, "9999")


class OrderFacts:
    """What every order-level report derives from an order (shipping, address, facility, taxes)."""

    def __init__(self, tenant: Tenant, order: Order) -> None:
        self.tenant = tenant
        self.order = order

    @property
    def order_code(self) -> str:
        return self.order.code

    @property
    def display_code(self) -> str:
        return self.order.display_code

    @property
    def channel(self) -> str:
        return self.order.channel

    @property
    def order_created(self) -> int:
        return self.order.created

    @property
    def facility_name(self) -> str:
        return self.tenant.facility_name(self.order.facility)

    @property
    def facility_code(self) -> str:
        return self.order.facility

    @property
    def customer_name(self) -> str:
        return self.order.customer_name

    @property
    def address_line1(self) -> str:
        return self.order.address

    @property
    def city(self) -> str:
        return self.order.city

    @property
    def state(self) -> str:
        return CITY_STATES[self.order.city][0]

    @property
    def country(self) -> str:
        return "India"

    @property
    def pincode(self) -> str:
        return f"{CITY_STATES[self.order.city][1]}{self.order.hash % 1000:03d}"

    @property
    def phone(self) -> str:
        return f"9{(self.order.hash >> 5) % 10**9:09d}"

    @property
    def same_state(self) -> bool:
        facility = self.tenant.facility(self.order.facility)
        return facility is not None and facility.state == self.state

    @property
    def cod(self) -> bool:
        return (self.order.hash >> 44) % 10 < 3

    @property
    def payment_method(self) -> str:
        return "COD" if self.cod else "PREPAID"

    @property
    def provider(self) -> str:
        return SHIPPING_PROVIDERS[(self.order.hash >> 52) % len(SHIPPING_PROVIDERS)][0]

    @property
    def courier(self) -> str:
        return SHIPPING_PROVIDERS[(self.order.hash >> 52) % len(SHIPPING_PROVIDERS)][1]

    @property
    def package_code(self) -> str:
        return f"SP{self.order.index:09d}"

    @property
    def awb(self) -> str:
        if self.provider == "SELF":  # self-shipped: the tracking number is the package code (field)
            return self.package_code
        return f"AWB{self.order.index:010d}"

    @property
    def invoice_code(self) -> str:
        return invoice_code(self.order)

    @property
    def shipping_charges(self) -> int:
        return 0 if self.order.hash % 3 else 4900

    @property
    def cod_charges(self) -> int:
        return 3000 if self.cod else 0

    @property
    def weight(self) -> int:
        return 200 + (self.order.hash >> 14) % 1800

    @property
    def length(self) -> int:
        return 200 + (self.order.hash >> 18) % 200

    @property
    def width(self) -> int:
        return 150 + (self.order.hash >> 22) % 100

    @property
    def height(self) -> int:
        return 50 + (self.order.hash >> 26) % 100

    @property
    def channel_shipping(self) -> str:
        return "true" if self.order.channel in ("AMAZON_IN", "FLIPKART") else "false"


# -- Sale Orders ---------------------------------------------------------------------------------

class SaleOrderRecord(OrderFacts):
    def __init__(self, tenant: Tenant, line: SaleOrderLine) -> None:
        super().__init__(tenant, line.item.order)
        self.line = line
        self.item = line.item

    @property
    def item_code(self) -> str:
        return self.item.code

    @property
    def item_status(self) -> str:
        return self.line.status

    @property
    def order_status(self) -> str:
        return self.line.order_status

    @property
    def updated(self) -> int:
        return self.line.updated

    @property
    def dispatched(self) -> bool:
        return self.line.status in (STATUS_DISPATCHED, STATUS_DELIVERED, STATUS_RETURN_EXPECTED,
                                    STATUS_RETURNED)

    @property
    def packed(self) -> bool:
        return self.line.status != STATUS_CREATED and self.item.cancelled_at is None

    @property
    def sku(self) -> str:
        return self.item.sku

    @property
    def product(self) -> Optional[Product]:
        return self.tenant.product(self.item.sku)

    @property
    def product_name(self) -> str:
        return self.item.product_name

    @property
    def category(self) -> Optional[str]:
        product = self.product
        return product.category if product else None

    @property
    def hsn(self) -> Optional[str]:
        return hsn_of(self.product)

    @property
    def gst_tax_type(self) -> Optional[str]:
        category = self.category
        return f"GST_{category.split()[0].upper()}" if category else None

    @property
    def channel_product_id(self) -> str:
        return f"{self.order.channel[:3]}-{self.item.sku}"

    @property
    def mrp(self) -> int:
        return (self.item.selling_price_paise + self.item.discount_paise) // self.item.quantity

    @property
    def selling_price(self) -> int:
        return self.item.selling_price_paise

    @property
    def discount(self) -> int:
        return self.item.discount_paise

    @property
    def total_price(self) -> int:
        return self.item.selling_price_paise + (self.shipping_charges if self.item.position == 1 else 0)

    @property
    def subtotal(self) -> int:
        return self.item.selling_price_paise - self.tax_value

    @property
    def cost_price(self) -> int:
        return self.mrp * 55 // 100

    @property
    def prepaid_amount(self) -> int:
        return 0 if self.cod else self.total_price

    @property
    def tax_value(self) -> int:
        return sum(_split_tax(self.item.selling_price_paise, self.item.tax_rate_bp, self.same_state))

    @property
    def tax_rate(self) -> int:
        return self.item.tax_rate_bp

    @property
    def cgst(self) -> int:
        return _split_tax(self.item.selling_price_paise, self.item.tax_rate_bp, self.same_state)[0]

    @property
    def sgst(self) -> int:
        return _split_tax(self.item.selling_price_paise, self.item.tax_rate_bp, self.same_state)[1]

    @property
    def igst(self) -> int:
        return _split_tax(self.item.selling_price_paise, self.item.tax_rate_bp, self.same_state)[2]

    @property
    def cgst_rate(self) -> int:
        return self.item.tax_rate_bp // 2 if self.same_state else 0

    @property
    def igst_rate(self) -> int:
        return 0 if self.same_state else self.item.tax_rate_bp

    @property
    def zero(self) -> int:
        return 0

    @property
    def line_shipping_charges(self) -> int:
        return self.shipping_charges if self.item.position == 1 else 0

    @property
    def line_cod_charges(self) -> int:
        return self.cod_charges if self.item.position == 1 else 0

    @property
    def on_hold(self) -> bool:
        return self.line.status == STATUS_CREATED and (self.item.hash >> 3) % 50 == 0

    @property
    def priority(self) -> int:
        return 0

    @property
    def currency(self) -> str:
        return FOREIGN_CURRENCIES[self.order.hash % 97][0] if self.order.hash % 97 < len(FOREIGN_CURRENCIES) else "INR"

    @property
    def conversion_rate(self) -> Decimal:
        """The order currency's rate to the tenant's (INR: 1), with the places a live rate has."""
        foreign = self.order.hash % 97
        return FOREIGN_CURRENCIES[foreign][1] if foreign < len(FOREIGN_CURRENCIES) else Decimal(1)

    @property
    def cancellation_reason(self) -> Optional[str]:
        return self.item.cancel_reason if self.line.status == STATUS_CANCELLED else None

    @property
    def shipping_provider(self) -> Optional[str]:
        return self.provider if self.packed else None

    @property
    def shipping_courier(self) -> Optional[str]:
        return self.courier if self.packed else None

    @property
    def shipping_arranged_by(self) -> Optional[str]:
        return ("CHANNEL" if self.channel_shipping == "true" else "SELLER") if self.packed else None

    @property
    def shipping_package_code(self) -> Optional[str]:
        return self.package_code if self.packed else None

    @property
    def package_created(self) -> Optional[int]:
        return self.order.processing_at if self.packed else None

    @property
    def package_status(self) -> Optional[str]:
        if not self.packed:
            return None
        if self.line.status == STATUS_FULFILLABLE:
            return "PACKED"
        return self.line.status  # DISPATCHED, DELIVERED, RETURN_EXPECTED, RETURNED

    @property
    def package_type(self) -> Optional[str]:
        return "DEFAULT" if self.packed else None

    @property
    def package_weight(self) -> Optional[int]:
        return self.weight if self.packed else None

    @property
    def package_length(self) -> Optional[int]:
        return self.length if self.packed else None

    @property
    def package_width(self) -> Optional[int]:
        return self.width if self.packed else None

    @property
    def package_height(self) -> Optional[int]:
        return self.height if self.packed else None

    @property
    def tracking_number(self) -> Optional[str]:
        return self.awb if self.dispatched else None

    @property
    def dispatch_date(self) -> Optional[int]:
        return self.order.dispatched_at if self.dispatched else None

    @property
    def delivery_time(self) -> Optional[int]:
        delivered = self.line.status in (STATUS_DELIVERED, STATUS_RETURN_EXPECTED, STATUS_RETURNED)
        return self.order.delivered_at if delivered else None

    @property
    def invoice(self) -> Optional[str]:
        return self.invoice_code if self.dispatched else None

    @property
    def invoice_created(self) -> Optional[int]:
        return self.order.dispatched_at if self.dispatched else None

    @property
    def packing_time(self) -> Optional[int]:
        return self.order.dispatched_at - HOUR if self.dispatched else None

    @property
    def fulfillment_tat(self) -> int:
        return self.order.created + 2 * 24 * HOUR

    @property
    def returned_date(self) -> Optional[int]:
        return self.item.returned_at if self.line.status == STATUS_RETURNED else None

    @property
    def return_reason(self) -> Optional[str]:
        returning = self.line.status in (STATUS_RETURN_EXPECTED, STATUS_RETURNED)
        return self.item.return_reason if returning else None

    @property
    def tracking_status(self) -> Optional[str]:
        if not (self.item.courier_return and self.line.status in (STATUS_RETURN_EXPECTED, STATUS_RETURNED)):
            return None
        return "RTO_DELIVERED" if self.line.status == STATUS_RETURNED else "RTO_IN_TRANSIT"

    @property
    def courier_status(self) -> Optional[str]:
        return {STATUS_DISPATCHED: "IN_TRANSIT", STATUS_DELIVERED: "DELIVERED"}.get(self.line.status)

    @property
    def shipping_address_id(self) -> str:
        return f"ADDR{self.order.index:09d}"

    @property
    def order_type(self) -> str:
        return "B2B" if self.order.channel == "B2B_DIRECT" else "B2C"

    @property
    def store_code(self) -> str:
        return "NA" if self.order.hash % 4 else f"ST-{self.order.facility}"


SALE_ORDER_COLUMNS = columns("""
soicode | Sale Order Item Code | text | item_code
displayorderCode | Display Order Code | text | display_code
reversePickupCode | Reverse Pickup Code
reversePickupCreatedDate | Reverse Pickup Created Date | timestamp
reversePickupReason | Reverse Pickup Reason
notificationEmail | Notification Email
notificationMobile | Notification Mobile
requireCustomization | Require Customization
cod | COD | flag | cod
shippingAddressId | Shipping Address Id | text | shipping_address_id
category | Category | text | category
invoiceCode | Invoice Code | text | invoice
invoiceCreated | Invoice Created | timestamp | invoice_created
ewbNo | EWayBill No
ewbDate | EWayBill Date | timestamp
ewbValidTill | EWayBill Valid Till | timestamp
shippingAddressName | Shipping Address Name | text | customer_name
shippingAddressLine1 | Shipping Address Line 1 | text | address_line1
shippingAddressLine2 | Shipping Address Line 2
shippingAddressCity | Shipping Address City | text | city
shippingAddressState | Shipping Address State | text | state
shippingAddressCountry | Shipping Address Country | text | country
shippingAddressPincode | Shipping Address Pincode | text | pincode
shippingAddressPhone | Shipping Address Phone | text | phone
billingAddressId | Billing Address Id | text | shipping_address_id
billingAddressName | Billing Address Name | text | customer_name
billingAddressLine1 | Billing Address Line 1 | text | address_line1
billingAddressLine2 | Billing Address Line 2
billingAddressCity | Billing Address City | text | city
billingAddressState | Billing Address State | text | state
billingAddressCountry | Billing Address Country | text | country
billingAddressPincode | Billing Address Pincode | text | pincode
billingAddressPhone | Billing Address Phone | text | phone
shippingMethod | Shipping Method | text | payment_method
skuCode | Item SKU Code | text | sku
channelProductId | Channel Product Id | text | channel_product_id
itemTypeName | Item Type Name | text | product_name
itemTypeColor | Item Type Color
itemTypeSize | Item Type Size
itemTypeBrand | Item Type Brand
channel | Channel Name | text | channel
itemRequireCustomization | SKU Require Customization
giftWrap | Gift Wrap
giftMessage | Gift Message
hsnCode | HSN Code | text | hsn
maxRetailPrice | MRP | money | mrp
totalPrice | Total Price | money | total_price
sellingPrice | Selling Price | money | selling_price
costPrice | Cost Price | money | cost_price
prepaidAmount | Prepaid Amount | money | prepaid_amount
subtotal | Subtotal | money | subtotal
discount | Discount | money | discount
gstTaxTypeCode | GST Tax Type Code | text | gst_tax_type
cgst | CGST | money | cgst
igst | IGST | money | igst
sgst | SGST | money | sgst
utgst | UTGST | money | zero
cess | CESS | money | zero
cgstrate | CGST Rate | rate | cgst_rate
igstrate | IGST Rate | rate | igst_rate
sgstrate | SGST Rate | rate | cgst_rate
utgstrate | UTGST Rate | rate | zero
cessrate | CESS Rate | rate | zero
TCSAmount | TCS Amount | money | zero
tax | Tax % | rate | tax_rate
taxValue | Tax Value | money | tax_value
voucherCode | Voucher Code
shippingCharges | Shipping Charges | money | line_shipping_charges
shippingMethodCharges | Shipping Method Charges | money | zero
cashOnDeliveryCharges | COD Service Charges | money | line_cod_charges
giftWrapCharges | Gift Wrap Charges | money | zero
packetNumber | Packet Number | integer
displayOrderDateTime | Order Date as dd/mm/yyyy hh:MM:ss | timestamp | order_created
saleOrderCode | Sale Order Code | text | order_code
onhold | On Hold | boolean | on_hold
status | Sale Order Status | text | order_status
priority | Priority | integer | priority
currency | Currency | text | currency
currencyConversionRate | Currency Conversion Rate | factor | conversion_rate
SoiStatus | Sale Order Item Status | text | item_status
cancellationReason | Cancellation Reason | text | cancellation_reason
shippingProvider | Shipping provider | text | shipping_provider
shippingCourier | Shipping Courier | text | shipping_courier
shippingArrangedBy | Shipping Arranged By | text | shipping_arranged_by
ShippingPackageCode | Shipping Package Code | text | shipping_package_code
ShippingPackageCreationDate | Shipping Package Creation Date | timestamp | package_created
shippingPackageStatusCode | Shipping Package Status Code | text | package_status
shippingPackageTypeCode | Shipping Package Type | text | package_type
shippingPackageLength | Length(mm) | grams | package_length
shippingPackageWidth | Width(mm) | grams | package_width
shippingPackageHeight | Height(mm) | grams | package_height
deliveryTime | Delivery Time | timestamp | delivery_time
TrackingNumber | Tracking Number | text | tracking_number
dispatchDate | Dispatch Date | timestamp | dispatch_date
facility | Facility | text | facility_name
facilityCode | Facility Code | text | facility_code
returnedDate | Return Date | timestamp | returned_date
returnReason | Return Reason | text | return_reason
returnRemarks | —
created | Created | timestamp | order_created
updated | Updated | timestamp | updated
combinationIdentifier | Combination Identifier
combinationDescription | Combination Description
transferPrice | Transfer Price | money | cost_price
itemCode | Item Code
imei | IMEI
actualWeight | Weight | grams | package_weight
gsttin | GSTIN
Cgsttin | Customer GSTIN
tin | TIN
paymentInstrc | Payment Instrument | text | payment_method
fulfillmentTat | Fulfillment TAT | timestamp | fulfillment_tat
ajustmentInSellingPrice | Adjustment In Selling Price | money | zero
ajustmentInDiscount | Adjustment In Discount | money | zero
storeCredit | Store Credit | money | zero
irn | IRN
acknowledgementNumber | Acknowledgement Number
bundleSkuCode | Bundle SKU Code Number
skuName | SKU Name | text | product_name
batchCode | Batch Code
vendorBatchNumber | Vendor Batch Number
sellerSkuCode | Seller SKU Code | text | sku
itemTypeEAN | Item Type EAN
shippingCourierStatus | Shipping Courier Status | text | courier_status
shippingTrackingStatus | Shipping Tracking Status | text | tracking_status
itemSealId | Item Seal Id
vendorunitprice | Vendor Unit Price | money | cost_price
parentSaleOrderCode | —
packingtimeinvoiceuser | Packing Time | timestamp | packing_time
itemDetails | Item Details
saleOrderCustomFields_GST | GST
saleOrderCustomFields_Order_Type | Order_Type | text | order_type
saleOrderCustomFields_STORE__CODE | STORE-CODE | text | store_code
""")
SALE_ORDER_EXTRA = columns("""
channelShipping | Channel Shipping | text | channel_shipping
itemDetails | Item Details
""")
B2B_SALE_ORDER_COLUMNS = SALE_ORDER_COLUMNS + columns("soiTotalQty | — | integer | quantity")


class B2BSaleOrderRecord(SaleOrderRecord):
    @property
    def quantity(self) -> int:
        return self.item.quantity


def _sale_order_rows(tenant: Tenant, query: ExportQuery, only_channels: Optional[tuple[str, ...]] = None,
                     record: type[SaleOrderRecord] = SaleOrderRecord) -> Iterator[SaleOrderRecord]:
    date_field = "updated" if query.date_filter == "updatedOn" else "created"
    channels = query.selected.get("channelFilter") or only_channels
    if only_channels and channels:
        channels = tuple(c for c in channels if c in only_channels)
    for line in tenant.sale_order_items(at=query.at, date_field=date_field, start=query.start,
                                        end=query.end, facility=query.facility, channels=channels):
        yield record(tenant, line)


def _b2b_sale_order_rows(tenant: Tenant, query: ExportQuery) -> Iterator[SaleOrderRecord]:
    return _sale_order_rows(tenant, query, only_channels=("B2B_DIRECT",), record=B2BSaleOrderRecord)


# -- Invoice -------------------------------------------------------------------------------------

class InvoiceRecord(SaleOrderRecord):
    """One invoice line (an item of quantity 2 gives two identical lines)."""

    def __init__(self, tenant: Tenant, item: OrderItem) -> None:
        order = item.order
        super().__init__(tenant, SaleOrderLine(item, STATUS_DISPATCHED, order.dispatched_at, "",
                                               order.dispatched_at))

    @property
    def unit_price(self) -> int:
        return self.item.selling_price_paise // self.item.quantity

    @property
    def unit_tax(self) -> int:
        return sum(_split_tax(self.unit_price, self.item.tax_rate_bp, self.same_state))

    @property
    def unit_cgst(self) -> int:
        return _split_tax(self.unit_price, self.item.tax_rate_bp, self.same_state)[0]

    @property
    def unit_sgst(self) -> int:
        return _split_tax(self.unit_price, self.item.tax_rate_bp, self.same_state)[1]

    @property
    def unit_igst(self) -> int:
        return _split_tax(self.unit_price, self.item.tax_rate_bp, self.same_state)[2]

    @property
    def one(self) -> int:
        return 1

    @property
    def uniware_invoice_code(self) -> str:
        return f"U{self.order.index:010d}"

    @property
    def invoice_date(self) -> int:
        return self.order.dispatched_at

    @property
    def channel_invoice_date(self) -> int:
        return self.order.dispatched_at + 5 * MINUTE

    @property
    def package_status_now(self) -> str:
        return "DISPATCHED"


INVOICE_COLUMNS = columns("""
orderCode | Order No | text | order_code
invoiceCode | Invoice No | text | invoice_code
shippingPackageCode | Shipping Package Code | text | package_code
shippingPackageStatusCode | Shipping Package Status Code | text | package_status_now
invoiceDate | Invoice Created Date | timestamp | invoice_date
channelInvoiceDate | Channel Invoice Created Date | timestamp | channel_invoice_date
ewbNo | EWayBill No
ewbDate | EWayBill Date | timestamp
ewbValidTill | EWayBill Valid Till | timestamp
customerName | Customer Name | text | customer_name
skuCode | SKU Code | text | sku
skuName | SKU Name | text | product_name
quantity | Quantity | integer | one
invoiceTax | Invoice Tax | money | unit_tax
invoiceTotal | Invoice Total | money | unit_price
invoiceCancelled | Invoice Cancelled
hsn | HSN Code | text | hsn
gstTaxCode | GST Tax Type Code | text | gst_tax_type
invoiceTaxCode | Tax Type Code | text | gst_tax_type
cgst | CGST | money | unit_cgst
igst | IGST | money | unit_igst
sgst | SGST | money | unit_sgst
utgst | UTGST | money | zero
vat | VAT | money | zero
cst | CST | money | zero
additionalTax | Additional Tax | money | zero
additionalTaxPercentage | Additional Tax Percentage | rate | zero
taxPercentage | Tax Percentage | rate | tax_rate
cess | CESS | money | zero
cgstrate | CGST Rate | rate | cgst_rate
igstrate | IGST Rate | rate | igst_rate
sgstrate | SGST Rate | rate | cgst_rate
utgstrate | UTGST Rate | rate | zero
cessrate | CESS Rate | rate | zero
shipping | Shipping Charge | money | line_shipping_charges
Cod | COD Charge | money | line_cod_charges
TCSAmount | TCS Amount | money | zero
channelName | Channel Name | text | channel
uniwareInvoiceCode | Uniware Invoice Code | text | uniware_invoice_code
ajustmentInSellingPrice | Adjustment In Selling Price | money | zero
ajustmentInDiscount | Adjustment In Discount | money | zero
grade | Grade
mrp | MRP | money | mrp
costprice | Cost Price | money | cost_price
color | Color
brand | Brand
size | Size
sellerSkuCode | Seller Sku Code | text | sku
""")
FACILITY_EXTRA = columns("facility | Facility | text | facility_name")


def _invoice_rows(tenant: Tenant, query: ExportQuery) -> Iterator[InvoiceRecord]:
    for item, _line in tenant.invoice_lines(at=query.at, start=query.start, end=query.end,
                                            facility=query.facility):
        yield InvoiceRecord(tenant, item)


# -- Return Invoices -----------------------------------------------------------------------------

class ReturnRecord(SaleOrderRecord):
    def __init__(self, tenant: Tenant, item: OrderItem, at: int) -> None:
        returned = item.returned_at is not None and item.returned_at <= at
        status = STATUS_RETURNED if returned else STATUS_RETURN_EXPECTED
        moment = item.returned_at if returned and item.returned_at else item.return_expected_at or 0
        super().__init__(tenant, SaleOrderLine(item, status, moment, "COMPLETE", moment))
        self.returned = returned
        self.units = 1  # the units (sale order items) of a Return Invoices row: its return invoice's, of its SKU

    @property
    def return_group(self) -> int:
        """The position of the unit whose return invoice and reverse pickup this unit's return shares."""
        return self.item.return_with or self.item.position

    @property
    def return_invoice_code(self) -> str:
        return f"RINV/{self.order.facility}/{self.order.index:07d}-{self.return_group}"

    @property
    def quantity(self) -> int:
        return self.item.quantity * self.units

    @property
    def cgst(self) -> int:
        return super().cgst * self.units

    @property
    def sgst(self) -> int:
        return super().sgst * self.units

    @property
    def igst(self) -> int:
        return super().igst * self.units

    @property
    def unit_price(self) -> int:
        return self.item.selling_price_paise // self.item.quantity

    @property
    def putaway_status(self) -> str:
        return "COMPLETE" if (self.item.hash >> 7) % 4 else "PENDING"

    # reverse pickups and courier returns
    @property
    def reverse_pickup_code(self) -> str:
        return f"RP{self.order.index:09d}{self.return_group}"

    @property
    def pickup_created(self) -> int:
        return self.item.return_expected_at or 0

    @property
    def pickup_updated(self) -> int:
        return self.line.updated

    @property
    def pickup_status(self) -> str:
        return "COMPLETE" if self.returned else "CREATED"

    @property
    def pickup_action(self) -> str:
        return "WAC" if (self.item.hash >> 9) % 3 else "REPLACEMENT"

    @property
    def return_awb(self) -> str:
        return f"RAWB{self.order.index:010d}"

    @property
    def received_items(self) -> int:
        return self.item.quantity if self.returned else 0

    @property
    def putaway_code(self) -> Optional[str]:
        return f"PA{self.order.index:09d}" if self.returned else None

    @property
    def putaway_state(self) -> Optional[str]:
        return self.putaway_status if self.returned else None

    @property
    def putaway_date(self) -> Optional[int]:
        return (self.item.returned_at or 0) + 3 * HOUR if self.returned else None

    @property
    def putaway_user(self) -> Optional[str]:
        return "warehouse.ops" if self.returned else None

    @property
    def return_delivery_date(self) -> Optional[int]:
        return self.item.returned_at if self.returned else None

    @property
    def rto_reason(self) -> str:
        return ("Customer not available", "Address incomplete", "Refused at doorstep")[self.item.hash % 3]

    @property
    def manifest_code(self) -> Optional[str]:
        return f"RM{self.order.index:08d}" if self.returned else None

    @property
    def manifest_status(self) -> Optional[str]:
        return "CLOSED" if self.returned else None

    @property
    def reshipment_action(self) -> str:
        return "NONE"

    @property
    def package_state(self) -> str:
        return self.line.status  # RETURN_EXPECTED or RETURNED

    @property
    def return_item_status(self) -> str:
        return "RECEIVED" if self.returned else "PENDING"


RETURN_INVOICE_COLUMNS = columns("""
displayorderCode | Display Order Code | text | display_code
invoiceCode | Invoice Code | text | invoice_code
returnInvoiceCode | Return Invoice Code | text | return_invoice_code
ShippingPackageCode | Shipping Package Code | text | package_code
shippingPackageStatusCode | Shipping Package Status Code | text | package_state
returnedDate | Return Date | timestamp | returned_date
customerName | Customer Name | text | customer_name
skuCode | Item SKU Code | text | sku
itemTypeName | Item Type Name | text | product_name
qty | Quantity | integer | quantity
transferPrice | Unit Price | money | unit_price
cgst | CGST | money | cgst
igst | IGST | money | igst
sgst | SGST | money | sgst
utgst | UTGST | money | zero
cess | CESS | money | zero
cgstrate | CGST Rate | rate | cgst_rate
igstrate | IGST Rate | rate | igst_rate
sgstrate | SGST Rate | rate | cgst_rate
utgstrate | UTGST Rate | rate | zero
cessrate | CESS Rate | rate | zero
""")
RETURN_INVOICE_EXTRA = columns("""
facility | Facility | text | facility_name
putawayStatus | Putaway Status | text | putaway_status
""")


def _return_invoice_rows(tenant: Tenant, query: ExportQuery) -> Iterator[ReturnRecord]:
    """A row per return invoice and SKU, with its Quantity: the units of a SKU returned together are one
    row; a unit returned later is a row of its own return invoice, so one sold invoice line (Invoice Code
    and Item SKU Code) can have two rows (uniware-reports.md 3: returnInvoiceCode)."""
    pending: Optional[ReturnRecord] = None
    for item in tenant.returned_items(at=query.at, start=query.start, end=query.end, facility=query.facility):
        record = ReturnRecord(tenant, item, query.at)
        if pending is not None and item.return_with and pending.return_invoice_code == record.return_invoice_code:
            pending.units += 1
            continue
        if pending is not None:
            yield pending
        pending = record
    if pending is not None:
        yield pending


# -- Reverse Pickup (customer returns) and Courier Returns (RTO) ---------------------------------

# Labels: DT's (loaded from real files) where it has one, TW's guess where DT has none or is unsure.
REVERSE_PICKUP_COLUMNS = columns("""
saleOrderItemCode | Sale Order Item Code | text | item_code
saleOrderCreated | Sale Order Created | timestamp | order_created
saleOrderCode | Original Sale Order Code | text | order_code
itemtypeName | Item Name | text | product_name
itemtypeSku | Item SKU Code | text | sku
reversePickupCode | Reverse Pickup No | text | reverse_pickup_code
trackingNumber | Tracking No | text | return_awb
dispatchedDate | Dispatched Date | timestamp | dispatch_date
referenceCode | Reference Code | text | display_code
importReferenceId | Bulk Return Id
reversePickupCreated | Reverse Pickup Created | timestamp | pickup_created
reversePickupUpdated | Reverse Pickup Last Updated | timestamp | pickup_updated
reversePickupStatus | — | text | pickup_status
reversePickupAction | — | text | pickup_action
returnReason | Return Reason | text | return_reason
customerImageUrl | Customer Image Url
replacementSaleOrderCode | Replacement Sale Order Code
channel | Channel Name | text | channel
totalReceivedItems | Total Received Items | integer | received_items
qcComments | QC Comment
reversePickupCreatedBy | —
putawayCode | — | text | putaway_code
createdBy | Putaway Created By | text | putaway_user
putawayStatus | — | text | putaway_state
putawayLastUpdated | — | timestamp | putaway_date
courierProvideName | Courier Provider Name | text | provider
returnItemStatus | Return Item Status | text | return_item_status
shippingCourierStatus | Shipping Courier Status
shippingTrackingStatus | Shipping Tracking Status
itemSealId | Item Seal Id
returnDeliveryDate | Return Delivery Date | timestamp | return_delivery_date
channelReturnCreatedDate | Channel Return Created Date | timestamp | pickup_created
returnCourierName | Return Courier Name | text | courier
returnRemarks | Return Remarks
""")

COURIER_RETURN_COLUMNS = columns("""
saleOrderNo | Sale Order No | text | order_code
shippingPackageCode | Shipping Package Code | text | package_code
shippingPackageStatus | Shipping Package Status | text | package_state
shippingProvider | Shipping Provider | text | provider
shippingCourier | Shipping Courier | text | courier
awbNo | AWB No | text | awb
returnDeliveryDate | Return Delivery Date | timestamp | return_delivery_date
rtoReason | RTO Reason | text | rto_reason
created | Created | timestamp | pickup_created
channelCreated | Channel Created | timestamp | order_created
returnManifestCode | Return Manifest Code | text | manifest_code
returnManifestAdded | Return Manifest Added | timestamp | return_delivery_date
returnManifestStatus | Return Manifest Status | text | manifest_status
returnManifestCreatedBy | Return Manifest Created By | text | putaway_user
returnManifestCreatedAt | Return Manifest Created At | timestamp | return_delivery_date
reshipmentAction | Reshipment Action | text | reshipment_action
channel | Channel | text | channel
putawayNo | Putaway No | text | putaway_code
putawayStatus | Putaway Status | text | putaway_state
putawayBy | Putaway By | text | putaway_user
putawayDate | Putaway Date | timestamp | putaway_date
dispatchFacility | Dispatch Facility | text | facility_name
returnFacility | Return Facility | text | facility_name
""")


def _reverse_pickup_rows(tenant: Tenant, query: ExportQuery) -> Iterator[ReturnRecord]:
    """A row per sale order item (unit): a pickup of two units of a SKU is two rows with one Reverse
    Pickup No and Item SKU Code, told apart by Sale Order Item Code (uniware-reports.md 1, 3)."""
    for item in tenant.returned_orders(at=query.at, start=query.start, end=query.end,
                                       facility=query.facility, courier=False):
        yield ReturnRecord(tenant, item, query.at)


def _courier_return_rows(tenant: Tenant, query: ExportQuery) -> Iterator[ReturnRecord]:
    seen: set[str] = set()  # one row per returned package
    for item in tenant.returned_orders(at=query.at, start=query.start, end=query.end,
                                       facility=query.facility, date_field="created", courier=True):
        if item.order.code not in seen:
            seen.add(item.order.code)
            yield ReturnRecord(tenant, item, query.at)


# -- Inventory Snapshot --------------------------------------------------------------------------

@dataclass(frozen=True)
class InventoryRecord:
    facility_name: str
    product: Product
    inventory: int
    open_sale: int
    open_purchase: int
    bad_inventory: int
    updated: int
    pending: int

    @property
    def sku(self) -> str:
        return self.product.code

    @property
    def name(self) -> str:
        return self.product.name

    @property
    def category(self) -> str:
        return self.product.category

    @property
    def mrp(self) -> int:
        return self.product.mrp_paise

    @property
    def cost_price(self) -> int:
        return self.product.mrp_paise * 55 // 100

    @property
    def zero(self) -> int:
        return 0

    @property
    def blocked(self) -> int:
        return self.open_sale

    @property
    def enabled(self) -> str:
        return "true"

    @property
    def parent_sku(self) -> str:
        return self.product.code.split("-")[0]

    @property
    def ean(self) -> str:
        return f"890{mix64(sum(map(ord, self.product.code))) % 10**10:010d}"


INVENTORY_COLUMNS = columns("""
facility | Facility | text | facility_name
itemTypeName | Item Type Name | text | name
itemtypeSku | Item SkuCode | text | sku
ean | EAN
upc | UPC
isbn | ISBN
color | Color
size | Size
brand | Brand
categoryName | Category Name | text | category
MRP | MRP | money | mrp
openSale | Open Sale | integer | open_sale
inventory | Inventory | integer | inventory
inventoryBlocked | Inventory Blocked | integer | blocked
badInventory | Bad Inventory | integer | bad_inventory
putawayPending | Putaway Pending | integer | pending
pendingInventoryAssessment | Pending Inventory Assessment | integer | zero
pendingStockTransfer | Stock In Transfer | integer | zero
openPurchase | Open Purchase | integer | open_purchase
quantityNotFound | — | integer | zero
excessQuantity | — | integer | zero
quarantinedInventory | — | integer | zero
inventoryNotSynced | — | integer | zero
enabled | Enabled | text | enabled
updated | Updated | timestamp | updated
costPrice | Cost Price | money | cost_price
itemType_ParentSku | Parent SKU | text | parent_sku
""")


def _inventory_rows(tenant: Tenant, query: ExportQuery) -> Iterator[InventoryRecord]:
    assert query.facility is not None
    updated = tenant.inventory_updated(query.at)
    if query.start is not None and not (query.start <= updated <= (query.end or query.at)):
        return  # updatedIn: filtering drops the SKUs that did not change in the range
    name = tenant.facility_name(query.facility)
    for product, inventory, open_sale, open_purchase, bad in tenant.inventory(at=query.at, facility=query.facility):
        yield InventoryRecord(name, product, inventory, open_sale, open_purchase, bad, updated,
                              (inventory + open_purchase) % 3)


# -- Item Master ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemRecord:
    product: Product
    at: int
    component: Optional[str]
    component_quantity: Optional[int]

    @property
    def code(self) -> str:
        return self.product.code

    @property
    def category_code(self) -> str:
        return self.product.category.upper().replace(" & ", "_").replace(" ", "_")

    @property
    def name(self) -> str:
        return self.product.name

    @property
    def category(self) -> str:
        return self.product.category

    @property
    def mrp(self) -> int:
        return self.product.mrp_at(self.at)

    @property
    def base_price(self) -> int:
        return self.product.mrp_at(self.at) * 80 // 100

    @property
    def cost_price(self) -> int:
        return self.product.mrp_paise * 55 // 100

    @property
    def updated(self) -> int:
        return self.product.updated_at(self.at)

    @property
    def weight(self) -> int:
        return 250 + sum(map(ord, self.product.code)) % 1500

    @property
    def type(self) -> str:
        return "BUNDLE" if self.product.components else "SIMPLE"

    @property
    def enabled(self) -> str:
        return "true"

    @property
    def hsn(self) -> Optional[str]:
        return hsn_of(self.product)

    @property
    def gst_tax_type(self) -> str:
        return f"GST_{self.product.category.split()[0].upper()}"

    @property
    def component_price(self) -> Optional[int]:
        return None if self.component is None else self.product.mrp_paise // 3

    @property
    def sku_type(self) -> str:
        return "GOODS"

    @property
    def tax_calculation(self) -> str:
        return "DEFAULT"

    @property
    def parent_sku(self) -> str:
        return self.product.code.split("-")[0]

    @property
    def image_url(self) -> None:
        return None  # blank: rendered as empty, N/A, - (field: `-` for empty image URLs) or NULL


ITEM_MASTER_COLUMNS = columns("""
categoryCode | Category Code | text | category_code
skuCode | Product Code | text | code
itemName | Name | text | name
description | Description
scanIdentifier | Scan Identifier
requireCustomization | Requires Customization
length | Length (mm)
width | Width (mm)
height | Height (mm)
weight | Weight (gms) | grams | weight
ean | EAN
upc | UPC
isbn | ISBN
color | Color
size | Size
brand | Brand
itemDetailFields | Item Detail Fields
tags | Tags
imageUrl | Image Url | text | image_url
productPageUrl | Product Page Url
taxTypeCode | Tax Type Code | text | gst_tax_type
gstTaxTypeCode | GST Tax Type Code | text | gst_tax_type
basePrice | Base Price | money | base_price
costPrice | Cost Price | money | cost_price
tat | TAT
MRP | MRP | money | mrp
updated | Updated | timestamp | updated
category | Category Name | text | category
enabled | Enabled | text | enabled
type | Type | text | type
componentProductCode | Component Product Code | text | component
componentQuantity | Component Quantity | integer | component_quantity
componentPrice | Component Price | money | component_price
hsn | HSN CODE | text | hsn
taxCalculationType | Tax Calculation Type | text | tax_calculation
batchGroupCode | Batch Group
grnExpiryTolerance | GRN expiry tolerance (in Days)
dispatchExpiryTolerance | Dispatch expiry tolerance (in Days)
returnExpiryTolerance | Return expiry tolerance (in Days)
expirable | Expirable
determineExpiryFrom | Determine Expiry From
shelfLife | Shelf Life
ExpiryDate | Expiry Date
skuType | Sku Type | text | sku_type
fragile | —
dangerousGood | —
itemType_ParentSku | Parent SKU | text | parent_sku
""")


def _item_master_rows(tenant: Tenant, query: ExportQuery) -> Iterator[ItemRecord]:
    name = (query.text.get("name") or "").lower()
    for product in tenant.products:
        if product.created > query.at or (name and name not in product.name.lower()):
            continue
        if query.start is not None:
            moment = product.updated_at(query.at) if query.date_filter == "updatedOn" else product.created
            if not (query.start <= moment <= (query.end if query.end is not None else query.at)):
                continue
        if not product.components:
            yield ItemRecord(product, query.at, None, None)
        for component, quantity in product.components:
            yield ItemRecord(product, query.at, component, quantity)


# -- Purchase Orders and GRN -----------------------------------------------------------------------

class PurchaseRecord:
    def __init__(self, tenant: Tenant, line: PurchaseOrderLine, at: int) -> None:
        self.tenant = tenant
        self.line = line
        self.at = at
        self.received_yet = at >= line.received_at

    @property
    def code(self) -> str:
        return self.line.code

    @property
    def created(self) -> int:
        return self.line.created

    @property
    def po_type(self) -> str:
        return "MANUAL"

    @property
    def created_by(self) -> str:
        return "purchase.team"

    @property
    def approved(self) -> Optional[int]:
        return self.line.approved_at if self.at >= self.line.approved_at else None

    @property
    def delivery_date(self) -> int:
        return self.line.delivery_date

    @property
    def name(self) -> str:
        return self.line.product.name

    @property
    def sku(self) -> str:
        return self.line.product.code

    @property
    def category(self) -> str:
        return self.line.product.category

    @property
    def hsn(self) -> Optional[str]:
        return hsn_of(self.line.product)

    @property
    def gst_tax_type(self) -> str:
        return f"GST_{self.line.product.category.split()[0].upper()}"

    @property
    def vendor(self) -> str:
        return self.line.vendor_name

    @property
    def vendor_code(self) -> str:
        return self.line.vendor_code

    @property
    def vendor_sku(self) -> str:
        return f"{self.line.vendor_code}-{self.line.product.code}"

    @property
    def quantity(self) -> int:
        return self.line.quantity

    @property
    def received(self) -> int:
        return self.line.received if self.received_yet else 0

    @property
    def rejected(self) -> int:
        return self.line.rejected if self.received_yet else 0

    @property
    def pending(self) -> int:
        return self.line.quantity - self.received - self.rejected

    @property
    def ageing(self) -> int:
        return max(0, (self.at - self.line.created) // (24 * HOUR))

    @property
    def facility_name(self) -> str:
        return self.tenant.facility_name(self.line.facility)

    @property
    def unit_price(self) -> int:
        return self.line.unit_price_paise

    @property
    def subtotal(self) -> int:
        return self.line.unit_price_paise * self.line.quantity

    @property
    def igst(self) -> int:
        return self.subtotal * self.line.tax_rate_bp // 10000

    @property
    def igst_rate(self) -> int:
        return self.line.tax_rate_bp

    @property
    def zero(self) -> int:
        return 0

    @property
    def total(self) -> int:
        return self.subtotal + self.igst

    @property
    def status(self) -> str:
        return self.line.status_at(self.at)[0]

    @property
    def updated(self) -> int:
        return self.line.status_at(self.at)[1]

    @property
    def rejection_reason(self) -> Optional[str]:
        return "Damaged packaging" if self.rejected else None

    # GRN
    @property
    def grn_code(self) -> str:
        return f"GRN{self.line.index:06d}"

    @property
    def grn_date(self) -> int:
        return self.line.received_at

    @property
    def grn_invoice(self) -> str:
        return f"VINV-{self.line.vendor_code}-{self.line.index:05d}"

    @property
    def grn_invoice_date(self) -> int:
        return self.line.delivery_date - 24 * HOUR

    @property
    def received_value(self) -> int:
        return self.line.unit_price_paise * self.received

    @property
    def received_value_tax(self) -> int:
        return self.received_value * (10000 + self.line.tax_rate_bp) // 10000

    @property
    def rejected_value(self) -> int:
        return self.line.unit_price_paise * self.rejected

    @property
    def rejected_value_tax(self) -> int:
        return self.rejected_value * (10000 + self.line.tax_rate_bp) // 10000

    @property
    def rejection_pct(self) -> int:
        return self.rejected * 10000 // self.line.quantity

    @property
    def grn_status(self) -> str:
        return "COMPLETE"


PURCHASE_ORDER_COLUMNS = columns("""
purchaseOrderCode | PO Code | text | code
created | Created | timestamp | created
type | Type | text | po_type
purchaseOrderCreatedBy | PO Created By | text | created_by
approvedDate | PO Approved Date | timestamp | approved
deliveryDate | Delivery Date | timestamp | delivery_date
itemTypeName | Item Type Name | text | name
itemtypeSku | Item SkuCode | text | sku
category | Category | text | category
hsnCode | HSN Code | text | hsn
gstTaxTypeCode | GST Tax Type Code | text | gst_tax_type
vendor | Vendor Name | text | vendor
vendorCode | Vendor Code | text | vendor_code
vendorSku | Vendor SkuCode | text | vendor_sku
quantity | Order Quantity | integer | quantity
recieveQuantity | Recieved Quantity | integer | received
rejectedQuantity | Rejected Quantity | integer | rejected
pendingQuantity | Pending Quantity | integer | pending
ageingDays | PO Ageing (Days) | integer | ageing
percentagePending | —
percentageRejection | —
facility | Facility | text | facility_name
unitPrice | Unit Price | money | unit_price
subTotal | Sub Total | money | subtotal
cgst | CGST | money | zero
igst | IGST | money | igst
sgst | SGST | money | zero
utgst | UTGST | money | zero
cess | CESS | money | zero
cgstrate | CGST Rate | rate | zero
igstrate | IGST Rate | rate | igst_rate
sgstrate | SGST Rate | rate | zero
utgstrate | UTGST Rate | rate | zero
cessrate | CESS Rate | rate | zero
total | Total | money | total
purchaseOrderStatus | Purchase Order Status | text | status
rejectionReason | Rejection Reason | text | rejection_reason
updated | Updated | timestamp | updated
POtolerance | —
ToleranceQtyInwarded | —
RejectedQtyInwarded | —
purchaseOrder_Remarks | —
""")

# ASSUMED ids: no GRN request was ever seen in the field; the labels are the field's (X4, DT; DT spells the
# key "Item Sku Code").
GRN_COLUMNS = columns("""
grnCode | GRN Code | text | grn_code
grnDate | GRN Date | timestamp | grn_date
grnCreatedBy | GRN Created By | text | created_by
itemtypeSku | Item SkuCode | text | sku
itemTypeName | Item Type Name | text | name
itemTypeColor | Item Type Color
itemTypeSize | Item Type Size
itemTypeBrand | Item Type Brand
facility | Facility | text | facility_name
category | Category | text | category
batchCode | Batch Code | text | batch_code
additionalCost | Additional Cost | money | zero
vendorSku | Vendor Sku Code | text | vendor_sku
vendor | Vendor Name | text | vendor
vendorCode | Vendor Code | text | vendor_code
vendorInvoiceNumber | GRN Invoice No | text | grn_invoice
vendorInvoiceDate | GRN Invoice Date | timestamp | grn_invoice_date
purchaseOrderCode | PO Code | text | code
purchaseOrderDate | PO Date | timestamp | created
quantityReceived | Quantity Received | integer | received
quantityRejected | Quantity Rejected | integer | rejected
percentageRejection | Percentage Rejection | rate | rejection_pct
valueReceivedWithoutTax | Values of Goods Received without taxes | money | received_value
valueReceivedWithTax | Values of Goods Received with taxes | money | received_value_tax
valueRejectedWithoutTax | Values of Goods Rejected without taxes | money | rejected_value
valueRejectedWithTax | Values of Goods Rejected with taxes | money | rejected_value_tax
rejectionReason | Rejection Reason | text | rejection_reason
grnItemStatus | Grn item Status | text | grn_status
updated | Updated | timestamp | grn_date
expiryDate | Expiry Date
""")


def _purchase_order_rows(tenant: Tenant, query: ExportQuery) -> Iterator[PurchaseRecord]:
    for line in tenant.purchase_orders(at=query.at, start=query.start, end=query.end, facility=query.facility):
        yield PurchaseRecord(tenant, line, query.at)


class GrnBatchRecord(PurchaseRecord):
    """A GRN row: one per batch of the SKU received (DT's GRN has Batch Code and Expiry Date), so a line
    received in two batches is two rows with one GRN Code and Item SkuCode."""

    def __init__(self, tenant: Tenant, line: PurchaseOrderLine, at: int, batch: int, batches: int) -> None:
        super().__init__(tenant, line, at)
        self.batch = batch
        self.batches = batches

    @property
    def batch_code(self) -> str:
        return f"B{self.line.index:05d}-{self.batch}"

    @property
    def received(self) -> int:
        total = super().received
        first = total // self.batches
        return first if self.batch == 1 else total - first * (self.batches - 1)

    @property
    def rejected(self) -> int:
        return super().rejected if self.batch == self.batches else 0  # rejected units are in the last batch


def _grn_rows(tenant: Tenant, query: ExportQuery) -> Iterator[PurchaseRecord]:
    for line in tenant.purchase_orders(at=query.at, start=query.start, end=query.end, facility=query.facility,
                                       by_receipt=True):
        batches = 2 if line.index % 4 == 0 and line.received >= 2 else 1
        for batch in range(1, batches + 1):
            yield GrnBatchRecord(tenant, line, query.at, batch, batches)


# -- Tally GST Report ----------------------------------------------------------------------------

class TallyFacts(SaleOrderRecord):
    """What both Tally reports say of an item beyond the order's facts."""

    @property
    def sales_ledger(self) -> str:
        return f"Sales {self.item.tax_rate_bp // 100}%"

    @property
    def channel_ledger(self) -> str:
        return f"{self.order.channel} Ledger"

    @property
    def voucher_type(self) -> str:
        return "Sales"

    @property
    def narration(self) -> str:
        return f"Sale order {self.order.code}"

    @property
    def channel_state(self) -> str:
        facility = self.tenant.facility(self.order.facility)
        return facility.state if facility else ""

    @property
    def registration_type(self) -> str:
        return "Unregistered/Consumer"

    @property
    def tax_verification(self) -> str:
        return "OK"


class TallyRecord(TallyFacts, InvoiceRecord):
    """One line per invoiced item (quantity in Qty)."""

    @property
    def quantity(self) -> int:
        return self.item.quantity


class TallyReturnRecord(TallyFacts, ReturnRecord):
    """One line per returned item, dated by its return (a credit note)."""

    @property
    def voucher_type(self) -> str:
        return "Credit Note"

    @property
    def narration(self) -> str:
        return f"Return of sale order {self.order.code}"

    @property
    def return_type(self) -> str:
        return "COURIER RETURN" if self.item.courier_return else "CUSTOMER RETURN"

    @property
    def rp_code(self) -> Optional[str]:
        return None if self.item.courier_return else self.reverse_pickup_code


TALLY_GST_COLUMNS = columns("""
invoiceDate | Date | timestamp | invoice_date
saleOrderCode | Sale Order Number | text | order_code
invoiceCode | Invoice number | text | invoice_code
channelName | Channel entry | text | channel
channelLedgerName | Channel Ledger | text | channel_ledger
productCode | Product Name | text | product_name
productSKU | Product SKU Code | text | sku
QTY | Qty | integer | quantity
unitPrice | Unit Price | money | unit_price
Currency | Currency | text | currency
currencyConversionRate | conversion rate | factor | conversion_rate
total | Total | money | selling_price
customerName | Customer Name | text | customer_name
shippingAddressName | Shipping Address Name | text | customer_name
shippingAddressState | Shipping Address State | text | state
shippingAddressCountry | Shipping Address Country | text | country
shippingProvider | Shipping Provider | text | provider
trackingNumber | AWB num | text | awb
sales | Sales | money | subtotal
salesLedger | Sales Ledger | text | sales_ledger
cgst | CGST | money | cgst
cgstRate | CGST Rate | rate | cgst_rate
sgst | SGST | money | sgst
sgstRate | SGST Rate | rate | cgst_rate
igst | IGST | money | igst
igstRate | IGST Rate | rate | igst_rate
utgst | UTGST | money | zero
utgstRate | UTGST Rate | rate | zero
cess | CESS | money | zero
cessRate | CESS Rate | rate | zero
OtherCharges | Other charges | money | line_shipping_charges
OtherChargesLedger | Other charges Ledger
OtherCharges1 | Other charges1 | money | line_cod_charges
OtherChargesLedger1 | Other charges Ledger1
Servicetax | Service tax | money | zero
ServicetaxLedger | ST Ledger
discountLedger | Discount Ledger
discountAmount | Discount Amount | money | discount
imei | IMEI
godDown | Godown | text | facility_name
dispatchdate | Dispatch Date/Cancellation Date | timestamp | invoice_date
narration | Narration | text | narration
entity | Entity
voucherTypeName | Voucher Type Name | text | voucher_type
tin | TIN NO
original | Original Invoice Date
original1 | Original Sale No
channelInvoiceDate | Channel Invoice Created | timestamp | channel_invoice_date
channelState | Channel State | text | channel_state
customerGSTIN | Customer GSTIN
channelPartyGSTIN | Channel_Party GSTIN
billingPartyCode | Billing Party Code
taxVerification | Tax Verification | text | tax_verification
gstregistrationtype | GST Registration Type | text | registration_type
TCSAmount | TCS Amount | money | zero
ajustmentInSellingPrice | Adjustment In Selling Price | money | zero
ajustmentInDiscount | Adjustment In Discount | money | zero
OtherChargesLedger2 | Other charges Ledger2
OtherCharges2 | Other charges2 | money | zero
storeCredit | Store Credit | money | zero
prepaidAmount | Prepaid Amount | money | prepaid_amount
taxOnOtherCharges | Tax On Other Charges | money | zero
taxOnOtherCharges1 | Tax On Other Charges1 | money | zero
taxOnOtherCharges2 | Tax On Other Charges2 | money | zero
irn | IRN
paymentMethod | Payment Method | text | payment_method
acknowledgementNumber | —
hsnCode | — | text | hsn
billingAddressLine1 | — | text | address_line1
billingAddressLine2 | —
isbn | —
bundleSkuCode | —
""")


# Tally GST's ids up to gstregistrationtype (channelPartyGSTIN first here), then its own (uniware-reports.md 3:
# AN, DM). Labels seen: Sale Order Number, Invoice number, Channel entry, Channel Ledger, Product Name, Qty,
# Unit Price, Total, Sales, Date, Return Type; the rest are Tally GST's, and rpcode, acknowledgementNumber,
# productHSNCode were never seen (served under their ids: "—" below). The SKU column is uncertain ("Product
# SKU" per AN).
def _tally_return_columns() -> tuple[Column, ...]:
    """Tally GST's ids up to gstregistrationtype, channelPartyGSTIN before customerGSTIN, with the values
    of a return where they differ, then the report's own ids."""
    shared = list(TALLY_GST_COLUMNS[:[c.id for c in TALLY_GST_COLUMNS].index("gstregistrationtype") + 1])
    party = next(c for c in shared if c.id == "channelPartyGSTIN")
    shared.remove(party)
    shared.insert([c.id for c in shared].index("customerGSTIN"), party)
    returned = {c.id: c for c in columns("""
invoiceDate | Date | timestamp | returned_date
invoiceCode | Invoice number | text | return_invoice_code
OtherCharges | Other charges | money | zero
OtherCharges1 | Other charges1 | money | zero
dispatchdate | Dispatch Date/Cancellation Date | timestamp | dispatch_date
original | Original Invoice Date | timestamp | dispatch_date
original1 | Original Sale No | text | order_code
channelInvoiceDate | Channel Invoice Created
""")}
    own = columns("""
rpcode | — | text | rp_code
irn | IRN
acknowledgementNumber | —
productHSNCode | — | text | hsn
returnType | Return Type | text | return_type
""")
    return (*(returned.get(c.id, c) for c in shared), *own)


TALLY_RETURN_GST_COLUMNS = _tally_return_columns()


def _tally_rows(tenant: Tenant, query: ExportQuery) -> Iterator[TallyRecord]:
    last = ""
    for item, _line in tenant.invoice_lines(at=query.at, start=query.start, end=query.end,
                                            facility=query.facility):
        if item.code != last:  # invoice_lines repeats an item per unit; Tally has one line with its Qty
            last = item.code
            yield TallyRecord(tenant, item)


def _tally_return_rows(tenant: Tenant, query: ExportQuery) -> Iterator[TallyReturnRecord]:
    for item in tenant.returned_items(at=query.at, start=query.start, end=query.end, facility=query.facility):
        yield TallyReturnRecord(tenant, item, query.at)


# -- Shipping Package ----------------------------------------------------------------------------

class PackageRecord(OrderFacts):
    def __init__(self, tenant: Tenant, order: Order, items: list[OrderItem], at: int) -> None:
        super().__init__(tenant, order)
        self.items = items
        self.at = at

    @property
    def status(self) -> str:
        states = [s[0] for s in (i.state_at(self.at) for i in self.items) if s is not None]
        for status in (STATUS_RETURNED, STATUS_RETURN_EXPECTED, STATUS_DELIVERED, STATUS_DISPATCHED):
            if status in states:
                return status
        return "PACKED"

    @property
    def dispatched(self) -> bool:
        return self.at >= self.order.dispatched_at

    @property
    def invoice(self) -> Optional[str]:
        return self.invoice_code if self.dispatched else None

    @property
    def tracking(self) -> Optional[str]:
        return self.awb if self.dispatched else None

    @property
    def dispatch_time(self) -> Optional[int]:
        return self.order.dispatched_at if self.dispatched else None

    @property
    def delivery_time(self) -> Optional[int]:
        return self.order.delivered_at if self.at >= self.order.delivered_at else None

    @property
    def return_time(self) -> Optional[int]:
        returned = [i.returned_at for i in self.items if i.returned_at is not None and i.returned_at <= self.at]
        return max(returned) if returned else None

    @property
    def created(self) -> int:
        return self.order.processing_at

    @property
    def updated(self) -> int:
        moments = [self.order.processing_at] + [s[1] for s in (i.state_at(self.at) for i in self.items) if s]
        return max(moments)

    @property
    def total_price(self) -> int:
        return sum(i.selling_price_paise for i in self.items) + self.shipping_charges

    @property
    def collectable(self) -> int:
        return self.total_price if self.cod else 0

    @property
    def item_count(self) -> int:
        return sum(i.quantity for i in self.items)

    @property
    def one(self) -> int:
        return 1

    @property
    def zero(self) -> int:
        return 0

    @property
    def cod_flag(self) -> bool:
        return self.cod

    @property
    def manifest(self) -> Optional[str]:
        return f"MF{self.order.dispatched_at // 86400:06d}{self.order.facility}" if self.dispatched else None

    @property
    def picklist(self) -> str:
        return f"PL{self.order.processing_at // 3600:08d}"

    @property
    def zone(self) -> str:
        return "LOCAL" if self.same_state else "NATIONAL"


# ASSUMED ids: no Shipping Package request was ever seen in the field; labels are DT's (spaces inferred).
SHIPPING_PACKAGE_COLUMNS = columns("""
facility | Facility | text | facility_name
shippingPackageCode | Shipping Package No | text | package_code
status | Status | text | status
invoiceCode | Invoice Code | text | invoice
ewbNo | EWayBill No
ewbDate | EWayBill Date | timestamp
ewbValidTill | EWayBill Valid Till | timestamp
shippingProvider | Shipping Provider | text | provider
shippingCourier | Shipping Courier | text | courier
shippingMethod | Shipping Method | text | payment_method
cashOnDelivery | Cash On Delivery | boolean | cod_flag
shippingAddressName | Shipping Address Name | text | customer_name
shippingAddressLine1 | Shipping Address Line1 | text | address_line1
shippingAddressLine2 | Shipping Address Line2
shippingAddressCity | Shipping Address City | text | city
shippingAddressState | Shipping Address State | text | state
shippingAddressPincode | Shipping Address Pincode | text | pincode
shippingAddressPhone | Shipping Address Phone | text | phone
picklistNumber | Picklist Number | text | picklist
saleOrderCode | Sale Order Code | text | order_code
zone | Zone | text | zone
trackingNumber | Tracking Number | text | tracking
actualWeight | Actual Weight | grams | weight
shippingCharges | Shipping Charges | money | shipping_charges
codCharges | COD Charges | money | cod_charges
additionalInfo | Additional Info
totalPrice | Total Price | money | total_price
noOfItems | No Of Items | integer | item_count
noOfBoxes | No Of Boxes | integer | one
packingCost | Packing Cost | money | zero
packageCode | Package Code | text | package_code
length | Length | grams | length
width | Width | grams | width
height | Height | grams | height
created | Created | timestamp | created
dispatchTime | Dispatch Time | timestamp | dispatch_time
shippingManifestCode | Shipping Manifest Code | text | manifest
returnTime | Return Time | timestamp | return_time
shipmentTracking | Shipment Tracking
providerShipmentStatus | Provider Shipment Status
deliveryTime | Delivery Time | timestamp | delivery_time
updated | Updated | timestamp | updated
channel | Channel | text | channel
collectableAmount | Collectable Amount | money | collectable
""")


def _package_rows(tenant: Tenant, query: ExportQuery) -> Iterator[PackageRecord]:
    for order, items in tenant.packages(at=query.at, start=query.start, end=query.end, facility=query.facility):
        yield PackageRecord(tenant, order, items, query.at)


CHANNEL_VALUES = ("AMAZON_IN", "FLIPKART", "MYNTRA", "SHOPIFY", "MEESHO", "B2B_DIRECT")
ITEM_MASTER_FILTERS = ("updatedSince", "name", "enabledFilter", "categoryIds", "skuType")

REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        # no date filter is required (uniware-reports.md 10 says so of B2B Sale Orders and Tally Return GST
        # only): a job without one exports the whole report
        Report("Sale Orders", SALE_ORDER_COLUMNS, _sale_order_rows, date_filters=("addedOn", "updatedOn"),
               select_filters={"channelFilter": CHANNEL_VALUES},
               extra_columns=SALE_ORDER_EXTRA),
        # a tenant's own copy of Sale Orders, as seen in the field (AL)
        Report("B2B Sale Orders", B2B_SALE_ORDER_COLUMNS, _b2b_sale_order_rows,
               date_filters=("addedOn", "updatedOn"), date_required=True,
               select_filters={"channelFilter": CHANNEL_VALUES}, extra_columns=SALE_ORDER_EXTRA),
        Report("Invoice", INVOICE_COLUMNS, _invoice_rows, date_filters=("dateCreatedRange",),
               extra_columns=FACILITY_EXTRA),
        Report("Return Invoices", RETURN_INVOICE_COLUMNS, _return_invoice_rows, date_filters=("addedOn",),
               extra_columns=RETURN_INVOICE_EXTRA),
        Report("Reverse Pickup", REVERSE_PICKUP_COLUMNS, _reverse_pickup_rows,
               date_filters=("reversePickupDateRange",), extra_columns=FACILITY_EXTRA),
        Report("Courier Returns", COURIER_RETURN_COLUMNS, _courier_return_rows, date_filters=("soDateRange",)),
        Report("Inventory Snapshot", INVENTORY_COLUMNS, _inventory_rows, date_filters=("updatedIn",)),
        Report("Item Master", ITEM_MASTER_COLUMNS, _item_master_rows, date_filters=("dateRange", "updatedOn"),
               other_filters=ITEM_MASTER_FILTERS, facility_scoped=False),
        Report("Purchase Orders", PURCHASE_ORDER_COLUMNS, _purchase_order_rows, date_filters=("addedOn",)),
        Report("GRN", GRN_COLUMNS, _grn_rows, date_filters=("addedOn",), assumed_ids=True),
        Report("Tally GST Report", TALLY_GST_COLUMNS, _tally_rows, date_filters=("addedOn",)),
        # its date filter is required ("Returned in Date Range*", uniware-reports.md 10)
        Report("Tally Return GST Report", TALLY_RETURN_GST_COLUMNS, _tally_return_rows, date_filters=("dateRange",),
               date_required=True),
        # the name AN's tenants give the same report (uniware-reports.md 3)
        Report("Tally Return GST Report 3.0", TALLY_RETURN_GST_COLUMNS, _tally_return_rows,
               date_filters=("dateRange",), date_required=True),
        Report("Shipping Package", SHIPPING_PACKAGE_COLUMNS, _package_rows, date_filters=("addedOn",),
               assumed_ids=True),
    )
}
