"""A deterministic Uniware tenant that evolves over simulated time.

Nothing is stored per order: every order, item and status transition is a pure function of the
tenant seed and the order's index, so exports of any size are generated streaming and tests can ask
for the exact truth of any period at any simulated instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

MASK64 = (1 << 64) - 1
MINUTE = 60
HOUR = 3600
DAY = 86400
IST_OFFSET_SECONDS = 19800  # India Standard Time, UTC+05:30, no daylight saving
IST = timezone(timedelta(seconds=IST_OFFSET_SECONDS))

# An item moves from CREATED to its last status within this many seconds (see OrderItem).
MAX_LIFECYCLE_SECONDS = 18 * DAY


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread deterministic hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def to_epoch(moment: datetime) -> int:
    """Epoch seconds of an aware datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    """Aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


class SimClock:
    """The tenant's simulated 'now'.

    It stands still unless advanced (tests are deterministic), or with `live` it also follows the
    real clock from `start` on (the demo and the command line).
    """

    def __init__(self, start: datetime, live: bool = False) -> None:
        self._now = to_epoch(start) // MINUTE * MINUTE
        self._live_since = time.monotonic() if live else None
        self._lock = threading.Lock()

    def now_epoch(self) -> int:
        with self._lock:
            if self._live_since is None:
                return self._now
            return self._now + int(time.monotonic() - self._live_since)

    def now(self) -> datetime:
        return from_epoch(self.now_epoch())

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward; new orders and status changes appear in the gap."""
        with self._lock:
            self._now += int(delta.total_seconds()) // MINUTE * MINUTE
            return from_epoch(self._now)

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = to_epoch(moment) // MINUTE * MINUTE


@dataclass(frozen=True)
class Facility:
    """A facility: its code (the `Facility` request header, `Facility Code` in exports) and its display
    name (what the export files' `Facility` column holds; facility/search never returns it)."""

    code: str
    name: str
    enabled: bool = True
    state: str = "Karnataka"  # decides CGST+SGST (same state) or IGST (another state) on its orders


DEFAULT_FACILITIES: tuple[Facility, ...] = (
    Facility("BLR01", "Bengaluru Central Warehouse", state="Karnataka"),
    Facility("DEL02", "Delhi NCR Fulfilment Hub, Gurugram", state="Haryana"),
    Facility("MUM03", "Mumbai Dark Store - Andheri", state="Maharashtra"),
    Facility("PNQ09", "Old Pune Warehouse", enabled=False, state="Maharashtra"),
)

CHANNELS: tuple[str, ...] = (
    "AMAZON_IN", "AMAZON_IN", "AMAZON_IN", "FLIPKART", "FLIPKART", "FLIPKART",
    "MYNTRA", "MYNTRA", "SHOPIFY", "MEESHO", "MEESHO", "SHOPIFY", "FLIPKART", "AMAZON_IN",
    "MYNTRA", "SHOPIFY", "MEESHO", "AMAZON_IN", "FLIPKART", "B2B_DIRECT",
)

PRODUCT_BASES: tuple[tuple[str, str, str, int], ...] = (
    # (sku prefix, category, name, mrp in paise)
    ("KUR", "Apparel", 'Cotton Kurta, "Classic" Fit', 149900),
    ("KUH", "Apparel", "कॉटन कुर्ता (नीला)", 129900),
    ("SAR", "Apparel", "Silk Saree\nwith blouse piece", 459900),
    ("MUG", "Home & Kitchen", "Café Crème Mug", 34900),
    ("TIF", "Home & Kitchen", "Steel Tiffin – 3 Tier", 79900),
    ("RAZ", "Home & Kitchen", "Jaipuri Razai, Double", 249900),
    ("SHO", "Footwear", "Men's Running Shoe", 299900),
    ("KOL", "Footwear", "Kolhapuri Chappal", 89900),
    ("OIL", "Beauty", "Ayurvedic Hair Oil 200ml", 24900),
    ("BRU", "Beauty", "Bamboo Toothbrush (Pack of 4)", 19900),
    ("GHE", "Grocery", "Pure Ghee 1L — A2", 99900),
    ("TEA", "Grocery", "Tea, Assam CTC 500g", 27900),
)
PRODUCT_VARIANTS: tuple[str, ...] = (
    "S", "M", "L", "XL", "Red", "नीला", "Écru", "Black", "Olive", "Free Size",
)
CUSTOMER_NAMES: tuple[str, ...] = (
    "Aarav Sharma", "अनन्या गुप्ता", "José D'Souza", "Zoë Fernandes", 'Rohan "Ronnie" Mehta',
    "Priyanka Iyer", "Łukasz Nowak", "Meera Nair", "கார்த்திக் ராஜா", "Fatima Sheikh",
    "Arjun Reddy", "Sofía Pereira",
)
ADDRESSES: tuple[str, ...] = (
    "Flat 12, Green Park,\nNear Metro Station",
    "12/4 MG Road",
    'House No. 5, "Shanti Niwas", Sector 21',
    "गली नं 3, करोल बाग",
    "Plot 44, 2nd Cross; Indiranagar",
    "B-701, Lodha Splendora\nGhodbunder Road",
    "Rue de l'Église 7, Fontainhas",
    "Door 9, Anna Salai",
)
CITIES: tuple[str, ...] = (
    "Bengaluru", "New Delhi", "Mumbai", "Pune", "Chennai", "Kolkata", "Jaipur", "Kochi",
)
# (state, pincode prefix) of each city above
CITY_STATES: dict[str, tuple[str, str]] = {
    "Bengaluru": ("Karnataka", "560"), "New Delhi": ("Delhi", "110"), "Mumbai": ("Maharashtra", "400"),
    "Pune": ("Maharashtra", "411"), "Chennai": ("Tamil Nadu", "600"), "Kolkata": ("West Bengal", "700"),
    "Jaipur": ("Rajasthan", "302"), "Kochi": ("Kerala", "682"),
}
SHIPPING_PROVIDERS: tuple[tuple[str, str], ...] = (
    # (shipping provider, shipping courier)
    ("Delhivery", "Delhivery Surface"), ("BLUEDART", "Blue Dart Air"), ("Ekart", "Ekart Logistics"),
    ("Xpressbees", "Xpressbees Surface"), ("SELF", "Self Shipping"),
)
VENDORS: tuple[tuple[str, str], ...] = (
    ("V0001", "Shree Textiles Pvt Ltd"), ("V0002", "Kitchen Kraft & Co."), ("V0003", "Footloose Exports"),
    ("V0004", "Ayur Naturals LLP"), ("V0005", "Desi Farms Grocery"),
)
CANCEL_REASONS: tuple[str, ...] = (
    "Customer changed mind, ordered elsewhere",
    "ग्राहक ने रद्द किया",
    'Out of stock at "seller" location',
    "Delivery address not serviceable",
)
RETURN_REASONS: tuple[str, ...] = (
    "Size too small",
    "Damaged in transit, box torn",
    "रंग अलग है",
    'Wrong item ("colour mismatch")',
)
TAX_RATES_BP: tuple[int, ...] = (500, 1200, 1800)  # basis points: 5 %, 12 %, 18 %

# Sale order *item* statuses (`SoiStatus` -> "Sale Order Item Status")
STATUS_CREATED = "CREATED"
STATUS_FULFILLABLE = "FULFILLABLE"
STATUS_DISPATCHED = "DISPATCHED"
STATUS_DELIVERED = "DELIVERED"
STATUS_RETURN_EXPECTED = "RETURN_EXPECTED"
STATUS_RETURNED = "RETURNED"
STATUS_CANCELLED = "CANCELLED"
# Sale *order* statuses (`status` -> "Sale Order Status"), derived from its items (see order_status)
ORDER_CREATED = "CREATED"
ORDER_PROCESSING = "PROCESSING"
ORDER_COMPLETE = "COMPLETE"
ORDER_CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    category: str
    mrp_paise: int
    created: int
    revised: int  # when the MRP was last revised (epoch seconds)
    components: tuple[tuple[str, int], ...] = ()

    def mrp_at(self, at: int) -> int:
        return self.mrp_paise + (self.mrp_paise // 10 if at >= self.revised else 0)

    def updated_at(self, at: int) -> int:
        return self.revised if at >= self.revised else self.created


@dataclass(frozen=True)
class Order:
    index: int
    code: str
    display_code: str
    channel: str
    facility: str
    customer_name: str
    address: str
    city: str
    created: int
    processing_at: int
    dispatched_at: int
    delivered_at: int
    hash: int = 0


@dataclass(frozen=True)
class OrderItem:
    order: Order
    position: int
    code: str
    sku: str
    product_name: str
    quantity: int
    selling_price_paise: int
    discount_paise: int
    tax_rate_bp: int
    cancelled_at: Optional[int]
    return_expected_at: Optional[int]
    returned_at: Optional[int]
    cancel_reason: str
    return_reason: str
    transitions: tuple[tuple[str, int], ...] = field(default=())
    courier_return: bool = False  # a returned item came back by the courier (RTO), not by reverse pickup
    hash: int = 0  # this item's own deterministic hash, for generated details
    # the position of the earlier unit of the same order line whose return (return invoice, reverse
    # pickup) this unit shares; 0: its own (see Tenant.items)
    return_with: int = 0

    def state_at(self, at: int) -> Optional[tuple[str, int]]:
        """(status, updated) of the item at simulated time `at`, or None before it exists."""
        current: Optional[tuple[str, int]] = None
        for status, moment in self.transitions:
            if moment > at:
                break
            current = (status, moment)
        return current

    @property
    def invoiced(self) -> bool:
        return self.cancelled_at is None


def order_status(items: Sequence[OrderItem], at: int) -> tuple[str, int]:
    """(Sale Order Status, since when) of an order whose items are `items`, at simulated time `at`.

    CANCELLED once every item is; COMPLETE once every other item is delivered (or returned);
    PROCESSING once any item moved past CREATED; else CREATED. An order's status therefore often
    differs from an item's: a cancelled item in a COMPLETE order, a DISPATCHED item of a PROCESSING one.
    """
    moments = sorted({m for item in items for _, m in item.transitions if m <= at})
    status, since = ORDER_CREATED, items[0].order.created
    for moment in moments:
        current = _order_status_from(item.state_at(moment) for item in items)
        if current != status:
            status, since = current, moment
    return status, since


def _order_status_from(states: Iterator[Optional[tuple[str, int]]]) -> str:
    statuses = [s[0] for s in states if s is not None]
    live = [s for s in statuses if s != STATUS_CANCELLED]
    if not live:
        return ORDER_CANCELLED
    if all(s in (STATUS_DELIVERED, STATUS_RETURN_EXPECTED, STATUS_RETURNED) for s in live):
        return ORDER_COMPLETE
    if any(s != STATUS_CREATED for s in live):
        return ORDER_PROCESSING
    return ORDER_CREATED


@dataclass(frozen=True)
class SaleOrderLine:
    """One row of Sale Orders: an item with its own and its order's status at the export's moment."""

    item: OrderItem
    status: str  # the item's status
    item_updated: int
    order_status: str
    updated: int  # the row's Updated: the later of the item's and the order's last change


@dataclass(frozen=True)
class PurchaseOrderLine:
    index: int  # the purchase order's index
    line: int
    code: str
    facility: str
    vendor_code: str
    vendor_name: str
    product: Product
    quantity: int
    unit_price_paise: int
    tax_rate_bp: int
    created: int
    approved_at: int
    delivery_date: int
    received_at: int  # when its GRN is made
    received: int
    rejected: int

    def status_at(self, at: int) -> tuple[str, int]:
        if at >= self.received_at:
            return "COMPLETE", self.received_at
        if at >= self.approved_at:
            return "APPROVED", self.approved_at
        return "CREATED", self.created


def money(paise: int) -> Decimal:
    """Paise as a two-decimal rupee amount."""
    return Decimal(paise).scaleb(-2)


class Tenant:
    """The simulated merchant: facilities, products and an endless, deterministic order stream."""

    def __init__(
        self,
        *,
        seed: int,
        clock: SimClock,
        facilities: Sequence[Facility] = DEFAULT_FACILITIES,
        orders_per_day: int = 240,
        history_days: int = 120,
        products: int = 240,
    ) -> None:
        if orders_per_day < 1:
            raise ValueError("orders_per_day must be at least 1")
        self.seed = seed
        self.clock = clock
        self.facilities = tuple(facilities)
        self.orders_per_day = orders_per_day
        self.origin = clock.now_epoch() - history_days * DAY
        self._enabled = tuple(f.code for f in self.facilities if f.enabled)
        if not self._enabled:
            raise ValueError("the tenant needs at least one enabled facility")
        self.products = self._make_products(products)
        self._product_by_code = {p.code: p for p in self.products}

    # -- reference data -------------------------------------------------------------------------

    def facility(self, code: str) -> Optional[Facility]:
        return next((f for f in self.facilities if f.code == code), None)

    def facility_name(self, code: str) -> str:
        facility = self.facility(code)
        return facility.name if facility is not None else code

    def facility_dates(self, code: str) -> tuple[int, int]:
        """(created, updated) of a facility, epoch seconds: created years before the order history,
        updated (e.g. disabled) some months later."""
        position = next(i for i, f in enumerate(self.facilities) if f.code == code)
        created = self.origin - DAY * (700 - 90 * position)
        return created, created + DAY * (120 + 45 * position)

    @property
    def enabled_facility_codes(self) -> tuple[str, ...]:
        return self._enabled

    def _make_products(self, count: int) -> tuple[Product, ...]:
        products: list[Product] = []
        for index in range(count):
            h = mix64(self.seed * 7919 + index)
            prefix, category, name, mrp = PRODUCT_BASES[index % len(PRODUCT_BASES)]
            variant = PRODUCT_VARIANTS[(index // len(PRODUCT_BASES)) % len(PRODUCT_VARIANTS)]
            code = f"{prefix}-{index:04d}"
            created = self.origin - DAY * (30 + h % 300)
            revised = self.origin + DAY * ((h >> 12) % 400)
            components: tuple[tuple[str, int], ...] = ()
            if index % 10 == 9 and index >= 2:
                components = ((f"{PRODUCT_BASES[(index - 1) % 12][0]}-{index - 1:04d}", 1),
                              (f"{PRODUCT_BASES[(index - 2) % 12][0]}-{index - 2:04d}", 2))
            products.append(Product(code, f"{name} - {variant}", category,
                                    mrp + (h >> 20) % 5000, created, revised, components))
        return tuple(products)

    # -- the order stream -----------------------------------------------------------------------

    def order_created(self, index: int) -> int:
        return self.origin + (index * 1440 // self.orders_per_day) * MINUTE

    def first_order_at_or_after(self, moment: int) -> int:
        """Smallest order index created at or after `moment`."""
        if moment <= self.origin:
            return 0
        minutes = -(-(moment - self.origin) // MINUTE)
        index = max(0, (minutes * self.orders_per_day) // 1440 - 1)
        while self.order_created(index) < moment:
            index += 1
        return index

    def order(self, index: int) -> Order:
        h = mix64(self.seed * 1_000_003 + index)
        created = self.order_created(index)
        channel = CHANNELS[(h >> 8) % len(CHANNELS)]
        code = f"SO{index:09d}"
        if channel == "AMAZON_IN":
            display = f"40{h % 10}-{(h >> 4) % 10**7:07d}-{(h >> 28) % 10**7:07d}"
        elif channel == "FLIPKART":
            display = f"OD{(h >> 3) % 10**18:018d}"
        else:
            display = f"#{100000 + index}"
        processing_at = created + MINUTE * (60 + (h >> 40) % 660)
        dispatched_at = created + MINUTE * (12 * 60 + (h >> 48) % (36 * 60))
        h2 = mix64(h)
        delivered_at = dispatched_at + MINUTE * (2 * 1440 + h2 % (4 * 1440))
        return Order(
            index=index,
            code=code,
            display_code=display,
            channel=channel,
            facility=self._enabled[h % len(self._enabled)],
            customer_name=CUSTOMER_NAMES[(h >> 24) % len(CUSTOMER_NAMES)],
            address=ADDRESSES[(h >> 32) % len(ADDRESSES)],
            city=CITIES[(h >> 36) % len(CITIES)],
            created=created,
            processing_at=processing_at,
            dispatched_at=dispatched_at,
            delivered_at=delivered_at,
            hash=h,
        )

    def items(self, order: Order) -> list[OrderItem]:
        """The order's sale order items. As in Uniware, a sale order item is one unit (uniware-reports.md 1:
        `Sale Order Item Code` unique per row, "each row = 1 unit"): a line of two units of a SKU gives two
        items of that SKU, with consecutive positions. Such units share their fate (cancelled or returned
        together, by the same way), and a return of both is either one return invoice and reverse pickup
        for the two, or (about half of them) two: the second unit comes back a day later on its own."""
        h = mix64(self.seed * 1_000_003 + order.index)
        draw = (h >> 16) % 10
        count = 1 + (draw >= 6) + (draw >= 9)
        result: list[OrderItem] = []
        used: set[int] = set()
        position = 0
        for line in range(1, count + 1):
            hk = mix64(h ^ (line * 0x51ED27))
            pick = hk % len(self.products)
            while pick in used and len(used) < len(self.products):
                pick = (pick + 1) % len(self.products)  # one line per SKU in an order
            used.add(pick)
            product = self.products[pick]
            units = 2 if (hk >> 10) % 10 == 0 else 1
            split_return = (hk >> 58) % 2 == 0  # two units returned on two return invoices
            discount_pct = (hk >> 52) % 40
            unit_mrp = product.mrp_at(order.created)
            price = unit_mrp * (100 - discount_pct) // 100
            cancelled_at: Optional[int] = None
            if (hk >> 20) % 100 < 8:
                cancel = order.created + MINUTE * (60 + (hk >> 28) % (23 * 60))
                if cancel < order.dispatched_at:
                    cancelled_at = cancel
            first_position = position + 1
            for unit in range(units):
                position += 1
                return_expected_at = returned_at = None
                if cancelled_at is None and (hk >> 40) % 100 < 6:
                    later = DAY if unit and split_return else 0
                    return_expected_at = order.delivered_at + MINUTE * (1440 + (hk >> 46) % (4 * 1440)) + later
                    returned_at = return_expected_at + 2 * DAY
                transitions: list[tuple[str, int]] = [(STATUS_CREATED, order.created)]
                if cancelled_at is not None:
                    if order.processing_at < cancelled_at:
                        transitions.append((STATUS_FULFILLABLE, order.processing_at))
                    transitions.append((STATUS_CANCELLED, cancelled_at))
                else:
                    transitions += [
                        (STATUS_FULFILLABLE, order.processing_at),
                        (STATUS_DISPATCHED, order.dispatched_at),
                        (STATUS_DELIVERED, order.delivered_at),
                    ]
                    if return_expected_at is not None and returned_at is not None:
                        transitions += [(STATUS_RETURN_EXPECTED, return_expected_at),
                                        (STATUS_RETURNED, returned_at)]
                result.append(OrderItem(
                    order=order,
                    position=position,
                    code=f"{order.code}-{position}",
                    sku=product.code,
                    product_name=product.name,
                    quantity=1,
                    selling_price_paise=price,
                    discount_paise=unit_mrp - price,
                    tax_rate_bp=TAX_RATES_BP[(hk >> 14) % len(TAX_RATES_BP)],
                    cancelled_at=cancelled_at,
                    return_expected_at=return_expected_at,
                    returned_at=returned_at,
                    cancel_reason=CANCEL_REASONS[(hk >> 33) % len(CANCEL_REASONS)],
                    return_reason=RETURN_REASONS[(hk >> 35) % len(RETURN_REASONS)],
                    transitions=tuple(transitions),
                    courier_return=(hk >> 50) % 3 == 0,
                    hash=hk,
                    return_with=first_position if unit and not split_return else 0,
                ))
        return result

    def orders_created_between(self, start: int, end: int) -> Iterator[Order]:
        """Orders created in [start, end] (epoch seconds), oldest first."""
        index = self.first_order_at_or_after(max(start, self.origin))
        while True:
            if self.order_created(index) > end:
                return
            yield self.order(index)
            index += 1

    # -- views used by the reports -------------------------------------------------------------

    def sale_order_items(
        self,
        *,
        at: int,
        date_field: str,
        start: Optional[int],
        end: Optional[int],
        facility: Optional[str] = None,
        channels: Optional[Sequence[str]] = None,
    ) -> Iterator[SaleOrderLine]:
        """The Sale Orders rows visible at `at` whose `date_field` is in range.

        `date_field` is "created" or "updated"; `start`/`end` are inclusive epoch seconds.
        """
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        scan_from = low - MAX_LIFECYCLE_SECONDS if date_field == "updated" else low
        wanted = set(channels) if channels else None
        for order in self.orders_created_between(scan_from, high):
            if facility is not None and order.facility != facility:
                continue
            if wanted is not None and order.channel not in wanted:
                continue
            items = self.items(order)
            if order.created > at:
                continue
            status_of_order, order_since = order_status(items, at)
            for item in items:
                state = item.state_at(at)
                if state is None:
                    continue
                updated = max(state[1], order_since)
                moment = updated if date_field == "updated" else order.created
                if low <= moment <= high:
                    yield SaleOrderLine(item, state[0], state[1], status_of_order, updated)

    def invoice_lines(
        self, *, at: int, start: Optional[int], end: Optional[int], facility: Optional[str] = None
    ) -> Iterator[tuple[OrderItem, int]]:
        """(item, line number) of invoice lines dated in range: a line per unit, so two units of a SKU
        give two identical lines, as Uniware's Invoice report does."""
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        scan_from = low - 2 * DAY
        for order in self.orders_created_between(scan_from, high):
            if facility is not None and order.facility != facility:
                continue
            if not (low <= order.dispatched_at <= high):
                continue
            line = 0
            for item in self.items(order):
                if not item.invoiced:
                    continue
                for _ in range(item.quantity):
                    line += 1
                    yield item, line

    def returned_items(
        self, *, at: int, start: Optional[int], end: Optional[int], facility: Optional[str] = None
    ) -> Iterator[OrderItem]:
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        for order in self.orders_created_between(low - MAX_LIFECYCLE_SECONDS, high):
            if facility is not None and order.facility != facility:
                continue
            for item in self.items(order):
                if item.returned_at is not None and low <= item.returned_at <= high:
                    yield item

    def returned_orders(
        self, *, at: int, start: Optional[int], end: Optional[int], facility: Optional[str] = None,
        date_field: str = "returned", courier: Optional[bool] = None,
    ) -> Iterator[OrderItem]:
        """Items with a return visible at `at` (its return was expected by then) whose `date_field`
        ("returned": return expected, "created": order created) is in range; `courier` selects
        courier returns (True), reverse pickups (False) or both (None)."""
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        scan_from = low if date_field == "created" else low - MAX_LIFECYCLE_SECONDS
        for order in self.orders_created_between(scan_from, high):
            if facility is not None and order.facility != facility:
                continue
            for item in self.items(order):
                if item.return_expected_at is None or item.return_expected_at > at:
                    continue
                if courier is not None and item.courier_return != courier:
                    continue
                moment = order.created if date_field == "created" else item.return_expected_at
                if low <= moment <= high:
                    yield item

    def packages(
        self, *, at: int, start: Optional[int], end: Optional[int], facility: Optional[str] = None,
    ) -> Iterator[tuple[Order, list[OrderItem]]]:
        """(order, items not cancelled) of shipping packages created (at processing) in range; one
        package per order."""
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        for order in self.orders_created_between(low - DAY, high):
            if facility is not None and order.facility != facility:
                continue
            if not (low <= order.processing_at <= high):
                continue
            live = [i for i in self.items(order) if i.cancelled_at is None or i.cancelled_at > order.processing_at]
            if live:
                yield order, live

    # -- purchasing -----------------------------------------------------------------------------

    PURCHASE_ORDER_EVERY = 12 * HOUR

    def purchase_order_lines(self, index: int) -> list[PurchaseOrderLine]:
        h = mix64(self.seed * 999_331 + index)
        created = self.origin + index * self.PURCHASE_ORDER_EVERY + (h % 600) * MINUTE
        vendor_code, vendor_name = VENDORS[(h >> 12) % len(VENDORS)]
        facility = self._enabled[(h >> 20) % len(self._enabled)]
        delivery = created + DAY * (3 + (h >> 24) % 5)
        received_at = delivery + HOUR * ((h >> 30) % 30)
        lines = []
        for line in range(1, 2 + (h >> 36) % 3):
            hl = mix64(h ^ (line * 0x9E37))
            product = self.products[(hl + line * 7) % len(self.products)]
            quantity = 10 * (2 + hl % 10)
            rejected = (hl >> 8) % 3
            received = quantity - (hl >> 12) % 4 - rejected
            lines.append(PurchaseOrderLine(
                index=index, line=line, code=f"PO{index:06d}", facility=facility,
                vendor_code=vendor_code, vendor_name=vendor_name, product=product, quantity=quantity,
                unit_price_paise=product.mrp_paise * 45 // 100, tax_rate_bp=TAX_RATES_BP[(hl >> 16) % 3],
                created=created, approved_at=created + HOUR * (1 + (h >> 40) % 5), delivery_date=delivery,
                received_at=received_at, received=received, rejected=rejected,
            ))
        return lines

    def purchase_orders(
        self, *, at: int, start: Optional[int], end: Optional[int], facility: Optional[str] = None,
        by_receipt: bool = False,
    ) -> Iterator[PurchaseOrderLine]:
        """Purchase order lines created (or, `by_receipt`, received on a GRN) in range, visible at `at`."""
        low = start if start is not None else self.origin
        high = min(end if end is not None else at, at)
        first = max(0, (low - self.origin) // self.PURCHASE_ORDER_EVERY - (20 if by_receipt else 1))
        index = first
        while self.origin + index * self.PURCHASE_ORDER_EVERY <= high:
            for line in self.purchase_order_lines(index):
                if facility is not None and line.facility != facility:
                    continue
                moment = line.received_at if by_receipt else line.created
                if low <= moment <= high and moment <= at:
                    yield line
            index += 1

    def inventory(self, *, at: int, facility: str) -> Iterator[tuple[Product, int, int, int, int]]:
        """(product, inventory, open sale, open purchase, bad inventory) stocked at `facility`."""
        day = (at + IST_OFFSET_SECONDS) // DAY
        fac_hash = sum(ord(c) * 131**i for i, c in enumerate(facility))
        for index, product in enumerate(self.products):
            if mix64(self.seed ^ fac_hash ^ (index * 977)) % 10 >= 7:
                continue
            h = mix64(self.seed * 31 + fac_hash * 17 + index * 1_000_033 + day)
            yield product, h % 200, (h >> 8) % 15, (h >> 16) % 30, (h >> 24) % 4

    def inventory_updated(self, at: int) -> int:
        """Inventory snapshots are refreshed daily at 06:00 India time."""
        day_start = (at + IST_OFFSET_SECONDS) // DAY * DAY - IST_OFFSET_SECONDS
        return day_start + 6 * HOUR if at >= day_start + 6 * HOUR else day_start - 18 * HOUR

    def product(self, code: str) -> Optional[Product]:
        return self._product_by_code.get(code)
