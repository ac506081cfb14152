"""Receipts: the VAT an order's prices include, and its PDF tax invoice.

Prices in the shop include VAT. Order pages, emails and the receipt show
the VAT in the total at ``settings.VAT_RATE`` percent, worked out by
``storefront.money.vat_included`` (the shop's one rounding rule).

Every paid order has a receipt / tax invoice, made with fpdf2 (pure Python,
nothing to install on the host) in its built-in Helvetica: that font knows
Latin-1 only, so other characters are spelled without their accents or
shown as ``?`` (``_latin1``) rather than failing the download. It is written
in the order's language (``Order.language``), as its emails are; English and
Kiswahili both need nothing beyond Latin-1.
"""

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from accounts.phones import format_local_phone
from storefront.money import format_kes, vat_included

from .models import Order, OrderLine, Refund
from .order_access import order_link

S = Order.Status
#: Orders that have a receipt: paid, and everything after payment.
RECEIPT_STATUSES = frozenset(
    {
        S.PAID,
        S.PACKED,
        S.SHIPPED,
        S.OUT_FOR_DELIVERY,
        S.DELIVERED,
        S.CANCELLATION_REQUESTED,
        S.REFUNDED,
    }
)


def has_receipt(order: Order) -> bool:
    """Return whether *order* was paid, so it has a receipt."""
    return order.paid_at is not None and order.status in RECEIPT_STATUSES


def vat_rate_label() -> str:
    """Return ``settings.VAT_RATE`` as shoppers read it (``16``, ``16.5``)."""
    rate = Decimal(settings.VAT_RATE).normalize()
    return f"{rate:f}"


def order_vat(order: Order) -> Decimal:
    """Return the VAT included in *order*'s total.

    The delivery fee is part of the taxable total: delivery is a service the
    shop supplies with the goods, so its VAT is in the order's total too.
    """
    return vat_included(order.total, settings.VAT_RATE)


def receipt_link(order: Order) -> str:
    """Return the receipt's path with the key of the order's emailed link.

    The key opens the receipt in any browser, as it opens the order page.
    """
    _path, _sep, query = order_link(order).partition("?")
    return f"{reverse('shop:order-receipt', kwargs={'number': order.number})}?{query}"


def email_context(order: Order) -> dict:
    """Return what order emails add about VAT and the receipt."""
    return {
        "vat": order_vat(order),
        "vat_rate": vat_rate_label(),
        "receipt_url": settings.SITE_URL + receipt_link(order) if has_receipt(order) else "",
    }


@dataclass(frozen=True)
class ReceiptData:
    order: Order
    lines: list[OrderLine]
    receipts: list[str]
    refunds: list[Refund]
    vat: Decimal


def receipt_data(order: Order) -> ReceiptData:
    """Read what the receipt shows of *order* (three queries, any number of lines)."""
    applied = order.payment_attempts.applied().values_list("receipt_number", flat=True)
    return ReceiptData(
        order=order,
        lines=list(order.lines.order_by("id")),
        receipts=list(applied),
        refunds=list(order.refunds.order_by("created", "id")),
        vat=order_vat(order),
    )


# Characters outside Latin-1 that product names and addresses often carry.
_SPELLED = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u2122": "(TM)",
        "\u00a0": " ",
        "\u0141": "L",
        "\u0142": "l",
        "\u0110": "D",
        "\u0111": "d",
    }
)


def _latin1(text) -> str:
    """Return *text* in the characters Helvetica has (Latin-1)."""
    text = str(text).translate(_SPELLED)
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char if char.isprintable() or char == "\n" else " ")
            continue
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(bare if bare and all(ord(c) < 256 for c in bare) else "?")
    return "".join(out)


def _kes(amount) -> str:
    return format_kes(amount, cents=True)


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "j M Y, H:i")


class _Receipt(FPDF):
    """A4 page in Helvetica with the helpers the receipt needs."""

    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)

    def say(self, text: str = "", *, size: int = 10, style: str = "", height: float = 5) -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(0, height, _latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pair(self, label: str, value: str, *, style: str = "") -> None:
        """A label on the left and an amount on the right, on one line."""
        self.set_font("Helvetica", style, 10)
        self.cell(0, 6, _latin1(label), new_x=XPos.LMARGIN)
        self.cell(0, 6, _latin1(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, _latin1(f"{settings.BUSINESS_NAME} · {settings.SITE_URL}"), align="C")


def render_receipt(order: Order) -> bytes:
    """Return the PDF receipt / tax invoice of the paid *order*.

    Written in the order's language, whoever downloads it. Reads the order's
    lines, applied M-Pesa payments and refunds (three queries). Raises
    ValueError for an order without a receipt.
    """
    if not has_receipt(order):
        raise ValueError(f"order {order.number} has no receipt: it is not paid")
    with translation.override(order.language or settings.LANGUAGE_CODE):
        return _draw(order, receipt_data(order))


def _draw(order: Order, data: ReceiptData) -> bytes:
    """Return the receipt's PDF, in the active language."""
    pdf = _Receipt()
    title = _("Tax invoice / Receipt")
    pdf.set_title(_latin1(f"{title} {order.number}"))
    pdf.set_author(_latin1(settings.BUSINESS_NAME))
    pdf.add_page()

    pdf.say(settings.BUSINESS_NAME, size=16, style="B", height=8)
    pdf.say(settings.BUSINESS_ADDRESS)
    if settings.KRA_PIN:
        pdf.say(_("KRA PIN: %(pin)s") % {"pin": settings.KRA_PIN})
    pdf.ln(4)
    pdf.say(title, size=14, style="B", height=7)
    pdf.say(_("Order number: %(number)s") % {"number": order.number})
    pdf.say(_("Date paid: %(date)s") % {"date": _when(order.paid_at)})
    if order.status == S.REFUNDED:
        pdf.say(_("Status: refunded"), style="B")
    elif order.status == S.CANCELLATION_REQUESTED:
        pdf.say(_("Status: cancellation requested, refund to follow"), style="B")
    pdf.ln(3)

    pdf.say(_("Bill to"), style="B")
    pdf.say(order.recipient_name)
    pdf.say(_("Phone: %(phone)s") % {"phone": format_local_phone(order.phone)})
    pdf.say(order.email)
    pdf.ln(2)
    pdf.say(_("Deliver to"), style="B")
    address = [*order.address_lines, format_local_phone(order.recipient_phone)]
    if order.landmark:
        address.append(order.landmark)
    pdf.say("\n".join(address))
    pdf.ln(4)

    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(62, 46, 12, 27, 27),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        heading = table.row()
        for label in (_("Item"), _("Option"), _("Qty"), _("Unit price"), _("Total")):
            heading.cell(_latin1(label))
        for item in data.lines:
            row = table.row()
            row.cell(_latin1(item.product_name))
            row.cell(_latin1(item.variant_name or "-"))
            row.cell(str(item.quantity))
            row.cell(_kes(item.unit_price))
            row.cell(_kes(item.line_total))
    pdf.ln(3)

    pdf.pair(_("Subtotal"), _kes(order.subtotal))
    pdf.pair(_("Delivery to %(county)s") % {"county": order.county}, _kes(order.delivery_fee))
    pdf.pair(_("Total"), _kes(order.total), style="B")
    pdf.pair(
        _("VAT included at %(rate)s%%") % {"rate": vat_rate_label()},
        _kes(data.vat),
    )
    if Decimal(order.amount_payable) != order.total:
        pdf.pair(_("Paid by M-Pesa (whole shillings)"), _kes(order.amount_payable))
    pdf.ln(4)

    pdf.say(_("Payment"), style="B")
    pdf.say(_("Method: M-Pesa"))
    if len(data.receipts) > 1:
        pdf.say(_("M-Pesa receipts: %(receipts)s") % {"receipts": ", ".join(data.receipts)})
    elif data.receipts:
        pdf.say(_("M-Pesa receipt: %(receipt)s") % {"receipt": data.receipts[0]})
    for refund in data.refunds:
        pdf.say(
            _("Refunded %(amount)s by %(method)s on %(date)s, reference %(reference)s")
            % {
                "amount": _kes(refund.amount),
                "method": refund.get_method_display(),
                "date": _when(refund.created),
                "reference": refund.reference,
            }
        )
    pdf.ln(4)
    pdf.say(_("Prices include VAT. Thank you for shopping with us."), size=9)
    return bytes(pdf.output())
