"""The shop's own pages, created with plain-English defaults staff can edit."""

from django.db import migrations, models

PAGES = [
    (
        "about",
        "About us",
        "Genuine phones and electronics, delivered to all 47 counties and paid with M-Pesa.",
        """We are a Kenyan online shop for phones, laptops, audio and accessories. Everything we sell is genuine and new, comes with the manufacturer's warranty, and is delivered to your door or to a pick-up point in any of Kenya's 47 counties.

## Why shop with us
- Prices in Kenya shillings, VAT included, with no surprises at checkout: you see the delivery fee for your county before you pay.
- You pay with M-Pesa on your own phone. We never ask for your PIN, by phone, SMS or WhatsApp.
- Every order has a page where you can follow it from payment to delivery.
- Real people answer your questions: see our Contact page.""",
    ),
    (
        "contact",
        "Contact us",
        "Call, WhatsApp or email us about an order, a product or a return.",
        """We are here Monday to Saturday, 8 am to 6 pm (East Africa Time), except public holidays. Messages sent outside these hours are answered the next working day.

## Before you call
- Have your order number ready (it starts with DT and is in your emails and on your order page).
- For a payment question, have the M-Pesa confirmation message handy.

## Stay safe
- We will never ask for your M-Pesa PIN or your password.
- We only ask you to pay through the M-Pesa prompt on your phone or the Paybill shown on your order page. If anyone asks you to send money to a personal number, do not pay and tell us.""",
    ),
    (
        "delivery",
        "Delivery",
        "Delivery to all 47 counties: fees by zone, times and what to expect.",
        """We deliver to all 47 counties of Kenya. The fee depends on your county and is shown at checkout before you pay; larger orders ship free in many zones (see the table below).

## How it works
- Orders paid before 2 pm on a working day are usually packed the same day.
- We hand your parcel to our own rider or a courier (for example G4S, Wells Fargo or Fargo Courier) and send you the tracking number by email and SMS.
- The rider calls the recipient's phone number before arriving, so please give a number that will be answered.
- Check the parcel before you sign for it. If it is damaged or opened, refuse it and call us.

## Delivery times
Times are in working days after payment and are estimates: weather, roads and public holidays can add a day or two. If your parcel is late, contact us with your order number.""",
    ),
    (
        "returns",
        "Returns and warranty",
        "What to do if an item is faulty, damaged or not what you ordered.",
        """We want you to be happy with what you bought. Your rights under the Consumer Protection Act, 2012 are not affected by this policy.

## Returns within 7 days
You can return an item within 7 days of delivery if:
- it is faulty or damaged, or
- it is not what you ordered (wrong model, colour or capacity).

Contact us with your order number and a short description or photo. We arrange the collection or tell you where to drop the item. Once we have inspected it, we repair, replace or refund it.

## Change of mind
Unopened items in their original sealed packaging can be returned within 7 days of delivery. You pay the delivery cost of the return. Opened phones and laptops, software, SIM cards, earphones and other personal-hygiene items cannot be returned for a change of mind.

## Refunds
Refunds go back to the M-Pesa number that paid, normally within 7 days of our inspection. You see the refund on your order page.

## Warranty
New products carry the manufacturer's warranty, usually 12 months (the product page says when it differs). Keep your order email: it is your proof of purchase. For a fault after the first 7 days, contact us and we help you with the manufacturer's service centre.""",
    ),
    (
        "terms",
        "Terms and conditions",
        "The terms of buying from our shop.",
        """These terms apply when you buy from our online shop. They are governed by the laws of Kenya, including the Consumer Protection Act, 2012.

## Prices and payment
- Prices are in Kenya shillings and include VAT. The delivery fee is shown at checkout before you pay.
- You pay with M-Pesa. An order that is not paid within the time shown at checkout expires and its items are released.
- Our contract with you starts when your payment is confirmed and we send you the payment receipt email.

## Stock and mistakes
We keep our stock up to date, but if an item turns out to be unavailable or wrongly priced after you paid, we tell you and refund you in full.

## Cancelling
You can cancel an order on its page until it leaves our shop. A paid order is refunded to the M-Pesa number that paid. See Returns and warranty for items already delivered.

## Your account
Keep your password to yourself. You can download your data or delete your account at any time from your account pages (see our Privacy notice).

## Contact
Questions about these terms: see our Contact page.""",
    ),
    (
        "privacy",
        "Privacy notice",
        "What personal data we keep, why, for how long, and your rights under the Data Protection Act, 2019.",
        """This notice explains how we handle your personal data under Kenya's Data Protection Act, 2019. We are the data controller for the data described here. To reach us about your data, use the details on our Contact page and mark your message "Data protection".

## What we keep
- Your name, email address and mobile number.
- The delivery addresses you save or give at checkout, and the recipient's name and phone.
- Your orders: what you bought, prices, delivery fees, status and delivery history.
- Payment records: the M-Pesa number that paid, the amount and the M-Pesa receipt number. We never see or keep your M-Pesa PIN.
- Your wishlist, cart, reviews and profile photo, if you add them.
- The internet (IP) address an order was placed from, and a session cookie that keeps you signed in and remembers your cart.

## Why we keep it
- To take and deliver your orders and take your payment (performing our contract with you).
- To keep the tax and accounting records the law requires (legal obligation).
- To prevent fraud and abuse, for example limiting unpaid orders (our legitimate interest).
- To send you emails and SMS about your orders. We send marketing only if you agree to it.

## Who we share it with
Only what each needs: Safaricom (M-Pesa payments), our riders and couriers (recipient name, phone and address), our email and SMS providers, and our hosting provider. We do not sell your data.

## How long we keep it
- Your account details, addresses, wishlist and cart: while your account is open.
- Orders and payment records: 5 years after the sale, because the VAT Act, 2013 and the Tax Procedures Act, 2015 require us to keep records of sales for 5 years.
- Sessions of visitors: two weeks after the last visit.

## Your rights
You have the right to be told how your data is used, to access it, to have it corrected, to have it deleted, to object to its use, and to receive it in a form you can take elsewhere.
- Download your data: in your account, open "Your data" and download a copy (a JSON file).
- Correct it: edit your profile and addresses in your account, or contact us.
- Delete your account: in your account, open "Your data". We remove your name, email, phone, photo, saved addresses, wishlist, cart and reviews, and sign you out everywhere. Orders still being paid for or on their way must finish first.
- What deletion keeps: the law requires us to keep each order's number, date, items, prices, delivery fee, totals, county and M-Pesa receipt numbers for 5 years. We detach them from you: the name, email, phone numbers and street address on those orders are removed.
- Object, or ask anything else: contact us. We answer within 7 days.

## Complaints
If you are not happy with how we handled your data, you can complain to the Office of the Data Protection Commissioner (ODPC): www.odpc.go.ke.""",
    ),
]


def create_pages(apps, schema_editor):
    Page = apps.get_model("shop", "Page")
    for slug, title, summary, body in PAGES:
        Page.objects.get_or_create(
            slug=slug, defaults={"title": title, "summary": summary, "body": body}
        )




class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0008_background_work'),
    ]

    operations = [
        migrations.CreateModel(
            name='Page',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slug', models.SlugField(max_length=60, unique=True, verbose_name='address')),
                ('title', models.CharField(max_length=120, verbose_name='title')),
                ('summary', models.CharField(blank=True, help_text='One sentence for search engines and link previews.', max_length=200, verbose_name='summary')),
                ('body', models.TextField(help_text='Plain text, no HTML. A blank line starts a new paragraph; lines starting with “- ” make a list; a line starting with “## ” is a heading; web and email addresses become links.', verbose_name='text')),
                ('updated', models.DateTimeField(auto_now=True, verbose_name='updated')),
            ],
            options={
                'verbose_name': 'page',
                'verbose_name_plural': 'pages',
                'ordering': ['slug'],
            },
        ),
        migrations.RunPython(create_pages, migrations.RunPython.noop),
    ]
