"""Built-in defaults for the report types seen in the field.

Headers, keys and date filters follow ../shared/uniware-api.md. Report names and column ids are
tenant-specific, so every field here can be overridden per export in the configuration, and a
report that is not listed works by configuration alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Optional

# Column types: how a CSV column (by header label) is typed on load. Unlisted columns stay text.
TEXT = "text"
TIMESTAMP = "timestamp"  # India time unless a value has its own offset, several formats; stored as UTC
DATE = "date"
DECIMAL = "decimal"  # amounts: decimal(18, 4)
RATE = "rate"  # rates and percentages with long fractions (a currency conversion rate 0.01198765): decimal(38, 12)
INTEGER = "integer"
COLUMN_TYPES = (TEXT, TIMESTAMP, DATE, DECIMAL, RATE, INTEGER)

MERGE = "merge"
REPLACE = "replace"  # snapshot reports: each facility's rows are replaced by its latest export
APPEND = "append"
WRITE_DISPOSITIONS = (MERGE, REPLACE, APPEND)


@dataclass(frozen=True)
class ColumnNeed:
    """A column an export's loading relies on: what for (`role`, `{}` standing for the label) and the
    setting that does without it (`way_out`; None for the key, which has none)."""

    label: str
    role: str
    way_out: Optional[str]


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
    # each facility numbers the codes of the key on its own (invoices, returns, POs, GRNs, packages: a document
    # is one facility's, and two facilities' series may give one code), so the facility its job ran under joins
    # the key; False where the codes are the tenant's and a row may move between facilities (a sale order item)
    codes_per_facility: bool = True
    repeating_keys: bool = False  # the natural key can repeat within one file (keep every row)
    lookback: Optional[timedelta] = None  # None: the source's lookback_days
    # the header label of the date the date filter filters on (the window guard checks it, see
    # window_guard.py), and that label for the other date filter ids the report takes
    window_column: Optional[str] = None
    window_columns_by_filter: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # other header labels tenants' files were read with for a label above (uniware-reports.md marks the
    # conflicts): a file with one of them, and not the label itself, has it read as that label
    label_readings: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # the readings of `label_readings` the configuration gives (folded): read as their label even where the
    # export's columns hold them already (the catalog's readings never take a column loads gave a label)
    configured_readings: frozenset[str] = frozenset()
    # the labels of `column_types` the configuration gives (not the catalog's defaults): a change of type
    # the user asks for is one, while the catalog's newer types leave loaded columns as they are
    configured_types: frozenset[str] = frozenset()
    # the labels (folded) whose type is kept from an earlier load though the catalog types them otherwise now
    types_kept: frozenset[str] = frozenset()
    # the date filter a job is made with when Uniware refuses `date_filter` (a catalog default, not one the
    # configuration chose): the report's other filter the tenants take (Sale Orders: updatedOn, else addedOn)
    date_filter_fallback: Optional[str] = None

    def with_date_filter(self, date_filter: Optional[str]) -> ExportSpec:
        """This export with its windows on `date_filter` (None: as it is), checked on that filter's column."""
        if not date_filter or date_filter == self.date_filter:
            return self
        return replace(self, date_filter=date_filter, date_filter_fallback=None,
                       window_column=self.window_columns_by_filter.get(date_filter, self.window_column),
                       # the filter left behind is no way out to suggest (the tenant may have refused it)
                       window_columns_by_filter=MappingProxyType({f: label for f, label in
                                                                  self.window_columns_by_filter.items()
                                                                  if f != self.date_filter}))

    @property
    def incremental(self) -> bool:
        return self.date_filter is not None

    @property
    def merges_on_job_code(self) -> bool:
        """An export without a natural key (or declared append): its table merges on the job code,
        `_uniware_job_code` (resources.py makes it the merge key, which dlt declares NOT NULL), so a
        job loaded twice lands once, but a window exported again by another job would land twice."""
        return self.write_disposition == APPEND or (not self.primary_key and self.write_disposition != REPLACE)

    def column_needs(self) -> list[ColumnNeed]:
        """The columns the merge or a check of this export relies on: the key and the column that tells
        a key's newest row (a keyed export), the window check's date column."""
        keyed = bool(self.primary_key) and not self.merges_on_job_code
        needs = [ColumnNeed(label, "{} is part of the key", None) for label in self.primary_key] if keyed else []
        if keyed and self.dedup_sort:
            needs.append(ColumnNeed(self.dedup_sort, "dedup_sort {} tells the newest of a key's rows",
                                    "dedup_sort to '' (a file whose key repeats then fails its job)"))
        if self.window_column:
            needs.append(ColumnNeed(self.window_column, "the window check reads {}",
                                    "window_column to '' (the rows' dates go unchecked)"))
        return needs

    @property
    def facility_in_key(self) -> bool:
        """A report run per facility whose natural key has no facility code: the facility code its job ran under
        (`_uniware_facility`) joins the key dlt merges on where each facility's file may hold the key's codes
        too: a snapshot (Inventory Snapshot, keyed on the display name `Facility` and the SKU: each facility's
        file holds the same SKUs, and two facilities may share a display name) or a report whose codes each
        facility numbers on its own (`codes_per_facility`: two facilities' invoice series may both give
        INV/0001). dlt's delete-insert deletes by the primary key, so one facility's row would replace
        another's. A key with `Facility Code` keeps it as it is (a job given in `job_codes`, of no known
        facility, merges on it)."""
        return (self.facility_scoped and bool(self.primary_key) and not self.merges_on_job_code
                and (self.date_filter is None or self.codes_per_facility)
                and not any("".join(key.lower().split()) in _FACILITY_CODE_LABELS for key in self.primary_key))


# a key column that tells facilities apart (folded: case and spaces ignored): the code; a display name
# (`Facility`) does not, as two facilities of a tenant may carry one (a company's name)
_FACILITY_CODE_LABELS = frozenset({"facilitycode"})
# key labels (folded) whose codes are the tenant's, not a facility's (an order item may be reallocated): a report
# outside the catalog keyed with one is taken as `codes_per_facility = false` unless configured (a tenant's copy
# of Sale Orders), any other as each facility's own codes
_TENANT_CODE_LABELS = frozenset({"saleordercode", "saleorderitemcode", "saleorderno", "originalsaleordercode",
                                 "displayordercode", "soicode"})


def codes_are_the_tenants(primary_key: Sequence[str]) -> bool:
    """Whether a key holds a code the tenant numbers (an order's or order item's), which no facility repeats."""
    return any("".join(label.lower().split()) in _TENANT_CODE_LABELS for label in primary_key)


def _with_types(**by_kind: tuple[str, ...]) -> Mapping[str, str]:
    return MappingProxyType({label: kind for kind, labels in by_kind.items() for label in labels})


SALE_ORDERS = ExportSpec(
    name="Sale Orders",
    table_name="sale_orders",
    # The column ids people load, as the field spells them (uniware-reports.md 1); add more per tenant.
    columns=("soicode", "saleOrderCode", "displayorderCode", "status", "SoiStatus", "onhold",
             "displayOrderDateTime", "created", "updated", "channel", "skuCode", "itemTypeName",
             "maxRetailPrice", "sellingPrice", "discount", "totalPrice", "tax", "taxValue", "cgst", "sgst",
             "igst", "cod", "currency", "invoiceCode", "shippingProvider", "shippingCourier", "TrackingNumber",
             "ShippingPackageCode", "shippingPackageStatusCode", "dispatchDate", "deliveryTime",
             "shippingAddressCity", "shippingAddressState", "shippingAddressPincode", "cancellationReason",
             "returnedDate", "facility", "facilityCode"),
    date_filter="updatedOn",
    codes_per_facility=False,  # the tenant's order and item codes; an item may be reallocated to another facility
    window_column="Updated",
    window_columns_by_filter=MappingProxyType({"updatedOn": "Updated", "addedOn": "Created"}),
    primary_key=("Sale Order Code", "Sale Order Item Code"),
    dedup_sort="Updated",
    column_types=_with_types(
        timestamp=("Order Date as dd/mm/yyyy hh:MM:ss", "Created", "Updated", "Dispatch Date", "Delivery Time",
                   "Return Date", "Invoice Created", "Shipping Package Creation Date", "Packing Time",
                   "Fulfillment TAT", "Reverse Pickup Created Date", "EWayBill Date", "EWayBill Valid Till"),
        decimal=("MRP", "Selling Price", "Discount", "Total Price", "Subtotal", "Cost Price", "Prepaid Amount",
                 "Tax %", "Tax Value", "CGST", "SGST", "IGST", "UTGST", "CESS", "CGST Rate", "SGST Rate",
                 "IGST Rate", "UTGST Rate", "CESS Rate", "TCS Amount", "Shipping Charges",
                 "Shipping Method Charges", "COD Service Charges", "Gift Wrap Charges", "Transfer Price",
                 "Weight", "Length(mm)", "Width(mm)", "Height(mm)",
                 "Adjustment In Selling Price", "Adjustment In Discount", "Store Credit", "Vendor Unit Price"),
        rate=("Currency Conversion Rate",),
        integer=("COD", "Priority", "Packet Number"),
        # named so that the columns the v_* views read keep them in any case or spacing a build writes
        # from a file's first load on (another label respelled lands in the column its first spelling has)
        text=("Sale Order Item Status", "Sale Order Status", "Channel Name", "Facility", "Invoice Code",
              "Item SKU Code"),
    ),
)
_TAXES = ("CGST", "IGST", "SGST", "UTGST", "CESS", "CGST Rate", "IGST Rate", "SGST Rate", "UTGST Rate",
          "CESS Rate")
_TALLY_TYPES = _with_types(  # Tally GST Report and Tally Return GST Report (the same ids, uniware-reports.md 3, 8)
    timestamp=("Date", "Dispatch Date/Cancellation Date", "Channel Invoice Created"),
    integer=("Qty",),
    decimal=("Unit Price", "Total", "Sales", "Discount Amount", "TCS Amount", *_TAXES),
    rate=("conversion rate",),
)
_GRN_VALUES = tuple(f"Values of Goods {what} {taxes} taxes" for what in ("Received", "Rejected")
                    for taxes in ("without", "with"))

# No natural key is known: each job's rows are kept as they are and replaced as a whole when the same job
# is loaded again (merge key _uniware_job_code); windows never overlap (no lookback), so each row is added
# once, by its invoice date. Configure a primary_key to merge on it instead.
TALLY_GST = ExportSpec(
    name="Tally GST Report",
    table_name="tally_gst",
    columns=("invoiceDate", "saleOrderCode", "invoiceCode", "channelName", "productCode", "productSKU",
             "QTY", "unitPrice", "total", "sales", "cgst", "sgst", "igst", "paymentMethod"),
    date_filter="addedOn",
    window_column="Date",
    write_disposition=APPEND,
    lookback=timedelta(0),
    column_types=_TALLY_TYPES,
)
# The returns' Tally report: Tally GST's ids up to gstregistrationtype, then its own (uniware-reports.md 3).
# Its filter `dateRange` ("Returned in Date Range") is required. No key either: loaded like Tally GST.
# Date is the return's own date (the sale's is Original Invoice Date), so it is the window column.
TALLY_RETURN_GST = replace(
    TALLY_GST,
    name="Tally Return GST Report",
    table_name="tally_return_gst",
    columns=(*TALLY_GST.columns[:-1], "returnType"),
    date_filter="dateRange",
    # DM's return file had no "Product SKU Code"; AN reads "Product SKU"
    label_readings=MappingProxyType({"Product SKU Code": ("Product SKU",)}),
)
# AN's tenants name it "Tally Return GST Report 3.0" (uniware-reports.md 3): the same report, loaded alike
TALLY_RETURN_GST_3 = replace(TALLY_RETURN_GST, name="Tally Return GST Report 3.0")

CATALOG: Mapping[str, ExportSpec] = MappingProxyType({r.name: r for r in (
    SALE_ORDERS,
    ExportSpec(
        name="Invoice",
        table_name="invoices",
        columns=("orderCode", "invoiceCode", "shippingPackageCode", "invoiceDate", "channelName", "skuCode",
                 "skuName", "quantity", "invoiceTax", "invoiceTotal", "taxPercentage", "cgst", "sgst", "igst",
                 "mrp", "hsn"),
        date_filter="dateCreatedRange",
        window_column="Invoice Created Date",
        primary_key=("Invoice No", "SKU Code"),
        repeating_keys=True,
        column_types=_with_types(
            timestamp=("Invoice Created Date", "Channel Invoice Created Date", "EWayBill Date",
                       "EWayBill Valid Till"),
            integer=("Quantity",),
            decimal=("Invoice Tax", "Invoice Total", "Tax Percentage", "MRP", "Cost Price", "Shipping Charge",
                     "COD Charge", "TCS Amount", "VAT", "CST", "Additional Tax", "Additional Tax Percentage",
                     "Adjustment In Selling Price", "Adjustment In Discount", *_TAXES),
        ),
    ),
    ExportSpec(
        name="Return Invoices",
        table_name="return_invoices",
        columns=("displayorderCode", "invoiceCode", "returnInvoiceCode", "ShippingPackageCode",
                 "shippingPackageStatusCode", "returnedDate", "customerName", "skuCode", "itemTypeName", "qty",
                 "transferPrice", "cgst", "igst", "sgst"),
        date_filter="addedOn",
        window_column="Return Date",
        # a row is a return invoice's line (uniware-reports.md 3: returnInvoiceCode): two units of one sold
        # invoice line returned on two return invoices are two rows with one Invoice Code and SKU
        primary_key=("Invoice Code", "Return Invoice Code", "Item SKU Code"),
        column_types=_with_types(timestamp=("Return Date",), integer=("Quantity",),
                                 decimal=("Unit Price", *_TAXES)),
        # DT's labels above; TW reads the same ids as these (uniware-reports.md 3)
        label_readings=MappingProxyType({"Return Date": ("Returned Date",), "Item SKU Code": ("SKU Code",),
                                         "Quantity": ("Qty",), "Unit Price": ("Transfer Price",)}),
    ),
    ExportSpec(
        name="Reverse Pickup",
        table_name="reverse_pickups",
        columns=("reversePickupCode", "itemtypeSku", "saleOrderCode", "saleOrderItemCode", "itemtypeName",
                 "reversePickupStatus", "reversePickupAction", "returnReason", "trackingNumber", "channel",
                 "reversePickupCreated", "reversePickupUpdated", "totalReceivedItems", "putawayStatus"),
        date_filter="reversePickupDateRange",
        window_column="Reverse Pickup Created",
        # a row per sale order item, i.e. per unit (uniware-reports.md 1, 3): a pickup of two units of a
        # SKU is two rows with one Reverse Pickup No and SKU
        primary_key=("Reverse Pickup No", "Sale Order Item Code", "Item SKU Code"),
        codes_per_facility=False,  # the item code is the tenant's: the key is the tenant's whoever receives it
        dedup_sort="Reverse Pickup Last Updated",
        column_types=_with_types(
            timestamp=("Sale Order Created", "Dispatched Date", "Reverse Pickup Created",
                       "Reverse Pickup Last Updated", "Return Delivery Date",
                       "Channel Return Created Date"),
            integer=("Total Received Items",),
        ),
        # DT's labels above, TW's readings of the same ids here (uniware-reports.md 3); saleOrderCreated the
        # other way round (DT's "Sale Order Received?" is unsure)
        label_readings=MappingProxyType({
            "Reverse Pickup No": ("Reverse Pickup Code",), "Item SKU Code": ("Item Type SKU",),
            "Reverse Pickup Last Updated": ("Reverse Pickup Updated",),
            "Sale Order Created": ("Sale Order Received",), "Original Sale Order Code": ("Sale Order Code",),
            "Item Name": ("Item Type Name",), "Tracking No": ("Tracking Number",), "Channel Name": ("Channel",),
            "Bulk Return Id": ("Import Reference Id",), "QC Comment": ("QC Comments",),
            "Putaway Created By": ("Created By",)}),
    ),
    ExportSpec(
        name="Courier Returns",
        table_name="courier_returns",
        columns=("saleOrderNo", "shippingPackageCode", "shippingPackageStatus", "shippingProvider",
                 "shippingCourier", "awbNo", "rtoReason", "created", "returnDeliveryDate", "putawayStatus",
                 "channel", "returnFacility", "channelCreated"),
        date_filter="soDateRange",
        window_column="Channel Created",
        # uniware-api.md keys it on Sale Order No + Sale Order Item, but the report's ids have no item
        # column: a package's rows can share this key, so every row is kept (numbered per key)
        primary_key=("Sale Order No", "Shipping Package Code"),
        codes_per_facility=False,  # the order code is the tenant's; dispatch and return facilities may differ
        repeating_keys=True,
        column_types=_with_types(timestamp=("Created", "Channel Created", "Return Delivery Date", "Return Date",
                                            "Return Manifest Added", "Return Manifest Created At",
                                            "Putaway Date")),
    ),
    ExportSpec(
        name="Inventory Snapshot",
        table_name="inventory_snapshot",
        columns=("facility", "itemtypeSku", "itemTypeName", "categoryName", "inventory", "openSale",
                 "inventoryBlocked", "openPurchase", "badInventory", "putawayPending", "pendingStockTransfer",
                 "MRP", "updated"),
        date_filter=None,
        primary_key=("Facility", "Item SkuCode"),
        write_disposition=REPLACE,
        column_types=_with_types(
            integer=("Inventory", "Open Sale", "Inventory Blocked", "Open Purchase", "Bad Inventory",
                     "Putaway Pending", "Pending Inventory Assessment", "Stock In Transfer", "Quantity Not Found",
                     "Excess Quantity", "Quarantined Inventory", "Inventory Not Synced"),
            decimal=("MRP", "Cost Price"),
            timestamp=("Updated",),
        ),
        label_readings=MappingProxyType({"Stock In Transfer": ("Pending Stock Transfer",)}),  # TW's reading
    ),
    ExportSpec(
        name="Item Master",
        table_name="item_master",
        columns=("skuCode", "itemName", "categoryCode", "category", "type", "componentProductCode",
                 "componentQuantity", "componentPrice", "MRP", "basePrice", "costPrice", "weight", "hsn",
                 "gstTaxTypeCode", "enabled", "updated"),
        date_filter=None,
        primary_key=("Product Code", "Component Product Code"),
        # DT's Item Master also carries a Facility column (uniware-reports.md 5, a conflict with DM): if a
        # tenant's file has a row per facility, a product's rows repeat the key; each is kept, numbered, so
        # the file stays a snapshot that replaces the table (a product gone upstream goes from it)
        repeating_keys=True,
        write_disposition=REPLACE,
        facility_scoped=False,
        column_types=_with_types(decimal=("MRP", "Base Price", "Cost Price", "Component Price", "Weight (gms)"),
                                 integer=("Component Quantity",), timestamp=("Updated",)),
    ),
    ExportSpec(
        name="Purchase Orders",
        table_name="purchase_orders",
        columns=("purchaseOrderCode", "itemtypeSku", "created", "approvedDate", "deliveryDate", "vendor",
                 "vendorCode", "itemTypeName", "quantity", "recieveQuantity", "rejectedQuantity",
                 "pendingQuantity", "unitPrice", "subTotal", "igst", "total", "purchaseOrderStatus", "facility",
                 "updated"),
        date_filter="addedOn",
        window_column="Created",
        primary_key=("PO Code", "Item SkuCode"),
        dedup_sort="Updated",
        column_types=_with_types(
            timestamp=("Created", "PO Approved Date", "Delivery Date", "Updated"),
            integer=("Order Quantity", "Recieved Quantity", "Rejected Quantity", "Pending Quantity",
                     "PO Ageing (Days)"),
            decimal=("Unit Price", "Sub Total", "Total", *_TAXES),
        ),
    ),
    # GRN's column ids are ASSUMED (never seen in the field); its labels are the field's (uniware-reports.md 7:
    # X4 "Item SkuCode", DT "Item Sku Code": one label to the matching, which ignores case and spaces).
    ExportSpec(
        name="GRN",
        table_name="grns",
        columns=("grnCode", "itemtypeSku", "grnDate", "facility", "purchaseOrderCode", "vendor",
                 "vendorInvoiceNumber", "quantityReceived", "quantityRejected", "valueReceivedWithTax", "updated"),
        date_filter="addedOn",
        window_column="GRN Date",
        # a row per batch received (DT's GRN has Batch Code and Expiry Date, uniware-reports.md 7): a SKU
        # received in two batches is two rows of one GRN Code and Item SkuCode, each kept, numbered
        primary_key=("GRN Code", "Item SkuCode"),
        repeating_keys=True,
        column_types=_with_types(
            timestamp=("GRN Date", "GRN Invoice Date", "PO Date", "Updated"),
            integer=("Quantity Received", "Quantity Rejected"),
            decimal=("Additional Cost", *_GRN_VALUES),
            rate=("Percentage Rejection",),  # a share of the quantity received: 1 of 3 is 33.333...
        ),
        # DT's "Values of Goods ..."; "Value of Goods ..." is how earlier versions of this connector spelled them
        label_readings=MappingProxyType({label: (label.replace("Values of", "Value of", 1),)
                                         for label in _GRN_VALUES}),
    ),
    TALLY_GST,
    TALLY_RETURN_GST,
    TALLY_RETURN_GST_3,
    # Shipping Package's column ids and its date filter are ASSUMED (never seen in the field).
    ExportSpec(
        name="Shipping Package",
        table_name="shipping_packages",
        columns=("shippingPackageCode", "saleOrderCode", "status", "facility", "invoiceCode", "shippingProvider",
                 "shippingCourier", "trackingNumber", "cashOnDelivery", "noOfItems", "totalPrice", "actualWeight",
                 "created", "dispatchTime", "deliveryTime", "updated"),
        date_filter="addedOn",
        window_column="Created",
        primary_key=("Shipping Package No",),
        dedup_sort="Updated",
        column_types=_with_types(
            timestamp=("Created", "Dispatch Time", "Return Time", "Delivery Time", "Updated", "EWayBill Date",
                       "EWayBill Valid Till"),
            # Cash On Delivery stays text: no source shows how it is written (Sale Orders' COD is 0/1, its On
            # Hold true/false; uniware-reports.md 9 and 12)
            integer=("No Of Items", "No Of Boxes"),
            decimal=("Actual Weight", "Shipping Charges", "COD Charges", "Total Price", "Packing Cost",
                     "Collectable Amount", "Length", "Width", "Height"),
        ),
    ),
)})


def did_you_mean_report(name: str, *, another: bool = False) -> str:
    """"; did you mean 'X'?" for the catalog report closest to `name`: case and spacing aside ("sale orders",
    "Invoices"), without the " Export" the Exports page adds to names ("Sale Orders Export", uniware-reports.md 6),
    or whose words are all among a catalog name's ("Tally GST", "Returns"); else "". `another`: never `name`
    itself, nor, when it is a catalog name, one that only shares words with it (Uniware refused it: the tenant
    lacks that report)."""
    asked = " ".join(name.lower().split())
    folded = {" ".join(known.lower().split()): known for known in CATALOG}
    refused_own = another and folded.get(asked) == name
    if refused_own:  # the catalog's own spelling, refused: suggest another
        folded.pop(asked)
    if asked.endswith(" export") and asked[:-len(" export")] in folded:
        return f"; did you mean '{folded[asked[:-len(' export')]]}'?"
    copied = next((known for fold, known in folded.items() if asked.endswith(f" {fold}")), None)
    spelt = difflib.get_close_matches(asked, list(folded), n=1, cutoff=0.8)
    if copied is not None and (not spelt or folded[spelt[0]] == copied):  # "B2B Sale Orders", "<tenant> Sale
        # Orders": a tenant's copy, a report of its own ("Return Invoice" is a misspelt "Return Invoices")
        return (f"; if it is the tenant's copy of '{copied}' (tenants have copies under names of their own), give the "
                f"column ids its Exports page takes (often those of '{copied}'), or use '{copied}' itself")
    close = spelt
    if not close and not refused_own:  # a name shortened by words ("Tally GST"); not a refused catalog name
        words = _report_words(asked)
        sharing = [known for known in folded if words and words <= _report_words(known)]
        close = sorted(sharing, key=lambda known: -difflib.SequenceMatcher(None, asked, known).ratio())[:1]
    return f"; did you mean '{folded[close[0]]}'?" if close else ""


def _report_words(name: str) -> frozenset[str]:
    """A report name's words, singular, without "export": what two spellings of one report share."""
    return frozenset(word[:-1] if word.endswith("s") and len(word) > 3 else word
                     for word in name.replace("-", " ").split() if word != "export")
