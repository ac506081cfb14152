"""The demo catalogue: a Kenyan phone and electronics shop.

``seed_catalogue()`` is idempotent: everything is looked up by slug or SKU
and created only when missing, so running it twice changes nothing.
``seed_synthetic_products(n)`` adds *n* generated products for benchmarks.
"""

import hashlib
import io
import random
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageDraw

from . import services
from .models import (
    Attribute,
    AttributeValue,
    Banner,
    Brand,
    Category,
    DeliveryZone,
    Product,
    ProductImage,
    ProductSpecification,
    ProductVariant,
)
from .queries import forget_category_tree

CATEGORIES = [
    # (name, parent name)
    ("Phones", None),
    ("Smartphones", "Phones"),
    ("Feature Phones", "Phones"),
    ("Laptops", None),
    ("Tablets", None),
    ("Audio", None),
    ("Headphones & Earbuds", "Audio"),
    ("Speakers", "Audio"),
    ("TVs", None),
    ("Wearables", None),
    ("Accessories", None),
    ("Chargers & Cables", "Accessories"),
    ("Power Banks", "Accessories"),
    ("Gaming", None),
]

BRANDS = [
    ("Samsung", True, "#1428a0"),
    ("Apple", True, "#333333"),
    ("Tecno", True, "#0a5cd5"),
    ("Infinix", True, "#00a65a"),
    ("Xiaomi", True, "#ff6900"),
    ("Oppo", False, "#1c7d4a"),
    ("Nokia", False, "#124191"),
    ("HP", True, "#0096d6"),
    ("Lenovo", False, "#e2231a"),
    ("Sony", True, "#000000"),
    ("JBL", False, "#ff3300"),
    ("Oraimo", True, "#7ab800"),
]

ATTRIBUTES = {
    "colour": ("Colour", 0),
    "storage": ("Storage", 1),
    "ram": ("RAM", 2),
    "size": ("Screen size", 3),
}

# (name, brand, category, base price, options, specs, flags)
PHONES = [
    (
        "Samsung Galaxy A15",
        "Samsung",
        18999,
        ["128 GB", "256 GB"],
        ["Black", "Light Blue"],
        '6.5" Super AMOLED',
        "5000 mAh",
        "Helio G99",
    ),
    (
        "Samsung Galaxy A25 5G",
        "Samsung",
        29999,
        ["128 GB", "256 GB"],
        ["Blue Black", "Yellow"],
        '6.5" Super AMOLED 120Hz',
        "5000 mAh",
        "Exynos 1280",
    ),
    (
        "Samsung Galaxy A55 5G",
        "Samsung",
        52999,
        ["128 GB", "256 GB"],
        ["Awesome Navy", "Awesome Lilac"],
        '6.6" Super AMOLED 120Hz',
        "5000 mAh",
        "Exynos 1480",
    ),
    (
        "Samsung Galaxy S24",
        "Samsung",
        104999,
        ["256 GB", "512 GB"],
        ["Onyx Black", "Marble Grey"],
        '6.2" Dynamic AMOLED 2X',
        "4000 mAh",
        "Exynos 2400",
    ),
    (
        "Samsung Galaxy S24 Ultra",
        "Samsung",
        164999,
        ["256 GB", "512 GB"],
        ["Titanium Black", "Titanium Grey"],
        '6.8" Dynamic AMOLED 2X',
        "5000 mAh",
        "Snapdragon 8 Gen 3",
    ),
    (
        "Samsung Galaxy Z Flip6",
        "Samsung",
        149999,
        ["256 GB"],
        ["Mint", "Silver Shadow"],
        '6.7" foldable AMOLED',
        "4000 mAh",
        "Snapdragon 8 Gen 3",
    ),
    (
        "iPhone 13",
        "Apple",
        84999,
        ["128 GB", "256 GB"],
        ["Midnight", "Starlight"],
        '6.1" Super Retina XDR',
        "3240 mAh",
        "A15 Bionic",
    ),
    (
        "iPhone 15",
        "Apple",
        119999,
        ["128 GB", "256 GB"],
        ["Black", "Blue", "Pink"],
        '6.1" Super Retina XDR',
        "3349 mAh",
        "A16 Bionic",
    ),
    (
        "iPhone 15 Pro Max",
        "Apple",
        189999,
        ["256 GB", "512 GB"],
        ["Natural Titanium", "Black Titanium"],
        '6.7" Super Retina XDR ProMotion',
        "4441 mAh",
        "A17 Pro",
    ),
    (
        "iPhone 16",
        "Apple",
        134999,
        ["128 GB", "256 GB"],
        ["Ultramarine", "Teal", "Black"],
        '6.1" Super Retina XDR',
        "3561 mAh",
        "A18",
    ),
    (
        "Tecno Spark 20",
        "Tecno",
        14499,
        ["128 GB", "256 GB"],
        ["Gravity Black", "Cyber White"],
        '6.6" HD+ 90Hz',
        "5000 mAh",
        "Helio G85",
    ),
    (
        "Tecno Spark 20 Pro+",
        "Tecno",
        24999,
        ["256 GB"],
        ["Temporal Orbits", "Lunar Frost"],
        '6.78" curved AMOLED',
        "5000 mAh",
        "Helio G99 Ultimate",
    ),
    (
        "Tecno Camon 30",
        "Tecno",
        32999,
        ["256 GB", "512 GB"],
        ["Basaltic Dark", "Uyuni Salt White"],
        '6.78" AMOLED 120Hz',
        "5000 mAh",
        "Helio G99 Ultimate",
    ),
    (
        "Tecno Pova 6 Pro",
        "Tecno",
        34999,
        ["256 GB"],
        ["Meteorite Grey", "Comet Green"],
        '6.78" AMOLED 120Hz',
        "6000 mAh",
        "Dimensity 6080",
    ),
    (
        "Infinix Hot 40i",
        "Infinix",
        13499,
        ["128 GB", "256 GB"],
        ["Starlit Black", "Palm Blue"],
        '6.56" HD+ 90Hz',
        "5000 mAh",
        "Unisoc T606",
    ),
    (
        "Infinix Hot 40 Pro",
        "Infinix",
        21999,
        ["256 GB"],
        ["Starfall Green", "Horizon Gold"],
        '6.78" FHD+ 120Hz',
        "5000 mAh",
        "Helio G99",
    ),
    (
        "Infinix Note 40 Pro",
        "Infinix",
        33999,
        ["256 GB"],
        ["Vintage Green", "Titan Gold"],
        '6.78" curved AMOLED',
        "5000 mAh",
        "Helio G99 Ultimate",
    ),
    (
        "Infinix Zero 40 5G",
        "Infinix",
        47999,
        ["256 GB", "512 GB"],
        ["Violet Garden", "Rock Black"],
        '6.78" AMOLED 144Hz',
        "5000 mAh",
        "Dimensity 8200",
    ),
    (
        "Xiaomi Redmi 13C",
        "Xiaomi",
        12999,
        ["128 GB", "256 GB"],
        ["Midnight Black", "Navy Blue"],
        '6.74" HD+ 90Hz',
        "5000 mAh",
        "Helio G85",
    ),
    (
        "Xiaomi Redmi Note 13",
        "Xiaomi",
        23999,
        ["128 GB", "256 GB"],
        ["Midnight Black", "Ice Blue"],
        '6.67" AMOLED 120Hz',
        "5000 mAh",
        "Snapdragon 685",
    ),
    (
        "Xiaomi Redmi Note 13 Pro+",
        "Xiaomi",
        49999,
        ["256 GB", "512 GB"],
        ["Aurora Purple", "Moonlight White"],
        '6.67" curved AMOLED',
        "5000 mAh",
        "Dimensity 7200 Ultra",
    ),
    (
        "Xiaomi 14T",
        "Xiaomi",
        69999,
        ["256 GB", "512 GB"],
        ["Titan Gray", "Titan Blue"],
        '6.67" AMOLED 144Hz',
        "5000 mAh",
        "Dimensity 8300 Ultra",
    ),
    (
        "Oppo A18",
        "Oppo",
        14999,
        ["128 GB"],
        ["Glowing Black", "Glowing Blue"],
        '6.56" HD+ 90Hz',
        "5000 mAh",
        "Helio G85",
    ),
    (
        "Oppo Reno 12 F",
        "Oppo",
        39999,
        ["256 GB"],
        ["Matte Grey", "Olive Green"],
        '6.67" AMOLED 120Hz',
        "5000 mAh",
        "Dimensity 6300",
    ),
    (
        "Nokia G42 5G",
        "Nokia",
        24999,
        ["128 GB"],
        ["So Grey", "So Purple"],
        '6.56" HD+ 90Hz',
        "5000 mAh",
        "Snapdragon 480+",
    ),
]

FEATURE_PHONES = [
    ("Nokia 105 (2023)", "Nokia", 2499, ["Charcoal", "Cyan"]),
    ("Nokia 110 4G", "Nokia", 3999, ["Midnight Blue", "Arctic Purple"]),
    ("Tecno T301", "Tecno", 1899, ["Black", "Blue"]),
    ("Infinix Smart Feature T1", "Infinix", 1999, ["Black", "Red"]),
]

LAPTOPS = [
    ("HP 250 G10", "HP", 64999, "Intel Core i5-1335U", '15.6" FHD'),
    ("HP Pavilion 15", "HP", 89999, "Intel Core i7-1355U", '15.6" FHD IPS'),
    ("HP EliteBook 840 G10", "HP", 154999, "Intel Core i7-1365U", '14" WUXGA'),
    ("Lenovo IdeaPad Slim 3", "Lenovo", 59999, "AMD Ryzen 5 7520U", '15.6" FHD'),
    ("Lenovo ThinkPad E14 Gen 5", "Lenovo", 109999, "Intel Core i5-1335U", '14" WUXGA'),
    ("Lenovo Legion 5", "Lenovo", 179999, "AMD Ryzen 7 7745HX, RTX 4060", '16" WQXGA 165Hz'),
    ("MacBook Air 13 M3", "Apple", 164999, "Apple M3", '13.6" Liquid Retina'),
    ("MacBook Pro 14 M3", "Apple", 244999, "Apple M3 Pro", '14.2" Liquid Retina XDR'),
]

TABLETS = [
    ("Samsung Galaxy Tab A9+", "Samsung", 32999, ["64 GB", "128 GB"], ["Graphite", "Silver"]),
    ("Samsung Galaxy Tab S9 FE", "Samsung", 64999, ["128 GB", "256 GB"], ["Gray", "Mint"]),
    ("iPad 10th Gen", "Apple", 69999, ["64 GB", "256 GB"], ["Blue", "Silver"]),
    ("iPad Air 11 M2", "Apple", 109999, ["128 GB", "256 GB"], ["Space Grey", "Starlight"]),
    ("Xiaomi Redmi Pad SE", "Xiaomi", 23999, ["128 GB"], ["Graphite Gray", "Mint Green"]),
    ("Lenovo Tab M10 Plus", "Lenovo", 27999, ["64 GB", "128 GB"], ["Storm Grey"]),
]

AUDIO = [
    ("Oraimo FreePods 4", "Oraimo", 3999, "Headphones & Earbuds", ["Black", "White"]),
    ("Oraimo Riff 2", "Oraimo", 2499, "Headphones & Earbuds", ["Black", "Blue"]),
    ("Sony WH-1000XM5", "Sony", 54999, "Headphones & Earbuds", ["Black", "Silver"]),
    ("Sony WF-C700N", "Sony", 16999, "Headphones & Earbuds", ["Black", "Lavender"]),
    ("Apple AirPods Pro (2nd gen)", "Apple", 39999, "Headphones & Earbuds", ["White"]),
    ("Samsung Galaxy Buds FE", "Samsung", 11999, "Headphones & Earbuds", ["Graphite", "White"]),
    ("JBL Tune 520BT", "JBL", 7499, "Headphones & Earbuds", ["Black", "Blue", "Purple"]),
    ("JBL Flip 6", "JBL", 16999, "Speakers", ["Black", "Blue", "Red"]),
    ("JBL Charge 5", "JBL", 22999, "Speakers", ["Black", "Teal"]),
    ("JBL PartyBox 110", "JBL", 59999, "Speakers", ["Black"]),
    ("Sony SRS-XB100", "Sony", 7999, "Speakers", ["Black", "Orange"]),
]

TVS = [
    ("Samsung Crystal UHD 4K Smart TV", "Samsung", 54999, ['43"', '55"', '65"']),
    ("Sony Bravia X75 4K Google TV", "Sony", 74999, ['50"', '55"']),
    ("Xiaomi TV A Pro 4K", "Xiaomi", 44999, ['43"', '55"']),
]

WEARABLES = [
    ("Samsung Galaxy Watch6", "Samsung", 34999, ["Graphite", "Gold"]),
    ("Apple Watch Series 9", "Apple", 64999, ["Midnight", "Starlight"]),
    ("Xiaomi Redmi Watch 4", "Xiaomi", 11999, ["Obsidian Black", "Silver Gray"]),
    ("Oraimo Watch 4 Plus", "Oraimo", 5499, ["Black", "Pink"]),
]

ACCESSORIES = [
    ("Oraimo Traveler 20000mAh Power Bank", "Oraimo", 3299, "Power Banks", ["Black", "Blue"]),
    ("Oraimo Toast 10000mAh Power Bank", "Oraimo", 1899, "Power Banks", ["Black"]),
    ("Samsung 25W USB-C Charger", "Samsung", 2999, "Chargers & Cables", ["White", "Black"]),
    ("Apple 20W USB-C Power Adapter", "Apple", 3499, "Chargers & Cables", ["White"]),
    ("Oraimo PowerLink USB-C Cable 1m", "Oraimo", 599, "Chargers & Cables", ["Black", "White"]),
    ("Xiaomi 33W Power Bank 10000mAh", "Xiaomi", 3799, "Power Banks", ["Black"]),
]

GAMING = [
    ("Sony PlayStation 5 Slim", "Sony", 79999, ["Disc Edition", "Digital Edition"]),
    (
        "Sony DualSense Wireless Controller",
        "Sony",
        10999,
        ["White", "Midnight Black", "Cosmic Red"],
    ),
]


def _stock_for(sku: str) -> int:
    """A stable pseudo-random stock figure, with a few items at zero or low."""
    digest = int(hashlib.sha1(sku.encode()).hexdigest(), 16)
    bucket = digest % 10
    if bucket == 0:
        return 0
    if bucket == 1:
        return 2
    return 5 + digest % 40


def _picture(label: str, colour: str, size: int = 800) -> ContentFile:
    """Draw a simple product picture locally with Pillow (no downloads)."""
    image = Image.new("RGB", (size, size), "#f1f5f9")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (size * 0.3, size * 0.12, size * 0.7, size * 0.82), radius=size // 14, fill=colour
    )
    draw.rounded_rectangle(
        (size * 0.33, size * 0.17, size * 0.67, size * 0.74), radius=size // 30, fill="#e2e8f0"
    )
    draw.text((size * 0.08, size * 0.88), label[:48], fill="#0f172a", font_size=size // 22)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=82)
    return ContentFile(buffer.getvalue(), name=f"{slugify(label)[:60]}.jpg")


COLOURS = {
    "black": "#1f2937",
    "white": "#e5e7eb",
    "blue": "#2563eb",
    "green": "#16a34a",
    "grey": "#6b7280",
    "gray": "#6b7280",
    "gold": "#ca8a04",
    "pink": "#ec4899",
    "purple": "#7c3aed",
    "silver": "#9ca3af",
    "red": "#dc2626",
    "teal": "#0d9488",
    "mint": "#5eead4",
    "yellow": "#facc15",
    "orange": "#f97316",
    "lilac": "#c4b5fd",
    "navy": "#1e3a8a",
    "titanium": "#78716c",
    "midnight": "#111827",
    "starlight": "#f5f5dc",
}


def _colour_hex(name: str, fallback: str) -> str:
    lowered = name.lower()
    return next((hex_ for word, hex_ in COLOURS.items() if word in lowered), fallback)


class _Seeder:
    def __init__(self):
        self.created = 0
        self.attributes = {}
        self.values = {}
        self.brands = {}
        self.categories = {}

    def attribute_value(self, attribute_slug: str, value: str) -> AttributeValue:
        key = (attribute_slug, slugify(value))
        if key not in self.values:
            name, order = ATTRIBUTES[attribute_slug]
            attribute = self.attributes.get(attribute_slug)
            if attribute is None:
                attribute, _ = Attribute.objects.get_or_create(
                    slug=attribute_slug, defaults={"name": name, "sort_order": order}
                )
                self.attributes[attribute_slug] = attribute
            sort = int("".join(c for c in value if c.isdigit()) or 0)
            self.values[key], _ = AttributeValue.objects.get_or_create(
                attribute=attribute,
                slug=slugify(value) or "x",
                defaults={"value": value, "sort_order": sort},
            )
        return self.values[key]

    def product(
        self,
        *,
        name,
        brand,
        category,
        summary,
        description,
        specs,
        variants,
        featured=False,
        new=False,
        hot=False,
        units_sold=0,
        age_days=0,
    ):
        slug = slugify(name)
        if Product.objects.filter(slug=slug).exists():
            return None
        brand_obj = self.brands[brand]
        product = Product.objects.create(
            name=name,
            slug=slug,
            brand=brand_obj,
            category=self.categories[category],
            summary=summary,
            description=description,
            is_featured=featured,
            is_new=new,
            is_hot=hot,
            units_sold=units_sold,
            created=timezone.now() - timezone.timedelta(days=age_days),
        )
        for order, (spec_name, spec_value) in enumerate(specs):
            ProductSpecification.objects.create(
                product=product, name=spec_name, value=spec_value, sort_order=order
            )
        brand_colour = next(c for n, _, c in BRANDS if n == brand)
        seen_colours = {}
        for order, variant in enumerate(variants):
            options = variant["options"]
            sku = variant["sku"]
            obj = ProductVariant.objects.create(
                product=product,
                sku=sku,
                name=" · ".join(value for _, value in options),
                price=Decimal(variant["price"]),
                compare_at_price=variant.get("compare_at"),
                stock_on_hand=_stock_for(sku),
                sort_order=order,
            )
            obj.values.set([self.attribute_value(a, v) for a, v in options])
            colour = next((v for a, v in options if a == "colour"), None)
            if colour and colour not in seen_colours:
                seen_colours[colour] = obj
        pictures = seen_colours or {"": None}
        for order, (colour, variant) in enumerate(pictures.items()):
            label = f"{name} {colour}".strip()
            ProductImage.objects.create(
                product=product,
                variant=variant,
                image=_picture(label, _colour_hex(colour, brand_colour)),
                alt=label,
                is_primary=order == 0,
                sort_order=order,
            )
        self.created += 1
        return product


def _sku(name: str, *parts: str) -> str:
    base = "".join(w[0] for w in slugify(name).split("-") if w)[:6].upper()
    digest = hashlib.sha1(name.encode()).hexdigest()[:4].upper()
    tail = "-".join(slugify(p).replace("-", "")[:10].upper() for p in parts if p)
    return f"{base}{digest}-{tail}" if tail else f"{base}{digest}"


@transaction.atomic
def seed_catalogue() -> int:
    """Create the demo catalogue where missing; return the products created."""
    seeder = _Seeder()
    for order, (name, parent) in enumerate(CATEGORIES):
        category, _ = Category.objects.get_or_create(
            slug=slugify(name),
            defaults={
                "name": name,
                "parent": seeder.categories.get(parent) if parent else None,
                "sort_order": order,
            },
        )
        seeder.categories[name] = category
    for name, featured, _colour in BRANDS:
        seeder.brands[name], _ = Brand.objects.get_or_create(
            slug=slugify(name), defaults={"name": name, "is_featured": featured}
        )
    rng = random.Random(254)
    age = 0

    def flags():
        nonlocal age
        age += 3
        return {
            "featured": rng.random() < 0.25,
            "new": age < 40,
            "hot": rng.random() < 0.15,
            "units_sold": rng.randint(0, 400),
            "age_days": age,
        }

    for name, brand, price, storages, colours, screen, battery, chip in PHONES:
        variants = []
        for s_index, storage in enumerate(storages):
            for colour in colours:
                p = price + s_index * (price // 6 // 100 * 100 or 1000)
                compare = Decimal(p + p // 10 // 100 * 100) if rng.random() < 0.3 else None
                variants.append(
                    {
                        "sku": _sku(name, storage, colour),
                        "price": p,
                        "compare_at": compare,
                        "options": [("storage", storage), ("colour", colour)],
                    }
                )
        seeder.product(
            name=name,
            brand=brand,
            category="Smartphones",
            summary=f"{screen} display, {battery} battery, {chip}.",
            description=(
                f"The {name} pairs a {screen} screen with the {chip} chip and a "
                f"{battery} battery that lasts a full Nairobi day. Official Kenyan "
                "warranty; works on Safaricom, Airtel and Telkom."
            ),
            specs=[
                ("Display", screen),
                ("Processor", chip),
                ("Battery", battery),
                ("SIM", "Dual SIM (nano)"),
                ("Network", "4G LTE" if "5G" not in name else "5G"),
                ("Warranty", "12 months"),
            ],
            variants=variants,
            **flags(),
        )
    for name, brand, price, colours in FEATURE_PHONES:
        seeder.product(
            name=name,
            brand=brand,
            category="Feature Phones",
            summary="Dual SIM, FM radio, battery that lasts days.",
            description=f"The {name} is a tough, simple phone with M-Pesa menu support.",
            specs=[("Display", '1.8" QQVGA'), ("SIM", "Dual SIM"), ("Radio", "Wireless FM")],
            variants=[
                {"sku": _sku(name, c), "price": price, "options": [("colour", c)]} for c in colours
            ],
            **flags(),
        )
    for name, brand, price, chip, screen in LAPTOPS:
        variants = []
        for r_index, ram in enumerate(["8 GB", "16 GB"]):
            for s_index, storage in enumerate(["256 GB", "512 GB"]):
                variants.append(
                    {
                        "sku": _sku(name, ram, storage),
                        "price": price + r_index * 12000 + s_index * 8000,
                        "options": [("ram", ram), ("storage", storage)],
                    }
                )
        seeder.product(
            name=name,
            brand=brand,
            category="Laptops",
            summary=f"{chip}, {screen}.",
            description=f"The {name} runs on the {chip} with a {screen} display.",
            specs=[
                ("Processor", chip),
                ("Display", screen),
                ("OS", "Windows 11 Home" if brand != "Apple" else "macOS"),
            ],
            variants=variants,
            **flags(),
        )
    for name, brand, price, storages, colours in TABLETS:
        seeder.product(
            name=name,
            brand=brand,
            category="Tablets",
            summary="Big screen for school, work and shows.",
            description=f"The {name}: a tablet for the whole family.",
            specs=[("Connectivity", "Wi-Fi"), ("Warranty", "12 months")],
            variants=[
                {
                    "sku": _sku(name, s, c),
                    "price": price + i * 8000,
                    "options": [("storage", s), ("colour", c)],
                }
                for i, s in enumerate(storages)
                for c in colours
            ],
            **flags(),
        )
    for name, brand, price, category, colours in AUDIO + ACCESSORIES:
        seeder.product(
            name=name,
            brand=brand,
            category=category,
            summary=f"Genuine {brand} {category.lower()}.",
            description=f"{name}, with official {brand} warranty.",
            specs=[("Warranty", "6 months" if price < 5000 else "12 months")],
            variants=[
                {"sku": _sku(name, c), "price": price, "options": [("colour", c)]} for c in colours
            ],
            **flags(),
        )
    for name, brand, price, sizes in TVS:
        seeder.product(
            name=name,
            brand=brand,
            category="TVs",
            summary="4K HDR smart TV with Netflix, YouTube and Showmax.",
            description=f"The {name}: 4K picture, smart apps, free-to-air tuner.",
            specs=[("Resolution", "3840 × 2160"), ("Tuner", "DVB-T2")],
            variants=[
                {"sku": _sku(name, s), "price": price + i * 25000, "options": [("size", s)]}
                for i, s in enumerate(sizes)
            ],
            **flags(),
        )
    for name, brand, price, colours in WEARABLES:
        seeder.product(
            name=name,
            brand=brand,
            category="Wearables",
            summary="Fitness, sleep and notifications on your wrist.",
            description=f"The {name} tracks steps, heart rate and sleep.",
            specs=[("Water resistance", "5 ATM")],
            variants=[
                {"sku": _sku(name, c), "price": price, "options": [("colour", c)]} for c in colours
            ],
            **flags(),
        )
    for name, brand, price, options in GAMING:
        attribute = "colour" if "Controller" in name else "storage"
        seeder.product(
            name=name,
            brand=brand,
            category="Gaming",
            summary="Play the latest games.",
            description=f"{name}, official Kenyan stock.",
            specs=[("Warranty", "12 months")],
            variants=[
                {
                    "sku": _sku(name, o),
                    "price": price - i * (price // 10 // 100 * 100),
                    "options": [(attribute, o)],
                }
                for i, o in enumerate(options)
            ],
            **flags(),
        )
    if not Banner.objects.exists():
        Banner.objects.create(
            title="New Galaxy S24 is here",
            subtitle="Pay with M-Pesa and get it delivered tomorrow in Nairobi.",
            link_url="/p/samsung-galaxy-s24/",
            link_text="See the S24",
            sort_order=0,
        )
        Banner.objects.create(
            title="Back to school laptops",
            subtitle="HP, Lenovo and MacBook from KES 59,999.",
            link_url="/c/laptops/",
            sort_order=1,
        )
        Banner.objects.create(
            title="Free delivery in Nairobi over KES 10,000",
            placement=Banner.Placement.PROMO,
            link_url="/products/",
        )
        Banner.objects.create(
            title="Oraimo power banks from KES 1,899",
            placement=Banner.Placement.PROMO,
            link_url="/brands/oraimo/",
        )
    if not DeliveryZone.objects.exists():
        DeliveryZone.objects.create(
            name="Nairobi", counties=["Nairobi"], fee=200, free_over=10000, delivery_days="Next day"
        )
        DeliveryZone.objects.create(
            name="Nairobi metro",
            counties=["Kiambu", "Machakos", "Kajiado", "Murang'a"],
            fee=350,
            free_over=20000,
            delivery_days="1–2 days",
        )
        DeliveryZone.objects.create(
            name="Rest of Kenya",
            fee=500,
            free_over=50000,
            delivery_days="2–4 days",
            is_fallback=True,
        )
    services.refresh_product_summaries(product_ids=Product.objects.values_list("pk", flat=True))
    forget_category_tree()
    return seeder.created


def seed_synthetic_products(count: int, *, batch_size: int = 1000) -> int:
    """Add *count* generated products (three variants each) for benchmarks.

    Products reuse a small pool of pictures, so 10,000 products cost seconds,
    not minutes. Existing synthetic products are counted towards *count*.
    """
    seed_catalogue()
    existing = Product.objects.filter(slug__startswith="bench-").count()
    brands = list(Brand.objects.all())
    categories = list(Category.objects.filter(parent__isnull=False)) or list(Category.objects.all())
    storage = [
        AttributeValue.objects.get(attribute__slug="storage", slug=s) for s in ("128-gb", "256-gb")
    ]
    colour = list(AttributeValue.objects.filter(attribute__slug="colour")[:6])
    pool = list(ProductImage.objects.filter(is_primary=True).values_list("image", flat=True)[:20])
    rng = random.Random(10_000)
    created = 0
    now = timezone.now()
    through = ProductVariant.values.through
    for start in range(existing, count, batch_size):
        stop = min(start + batch_size, count)
        with transaction.atomic():
            products = Product.objects.bulk_create(
                [
                    Product(
                        name=f"{rng.choice(brands).name} Model {i:05d}",
                        slug=f"bench-{i:05d}",
                        brand=rng.choice(brands),
                        category=rng.choice(categories),
                        summary="A generated product for the benchmark.",
                        description="Generated.",
                        is_featured=i % 17 == 0,
                        units_sold=rng.randint(0, 1000),
                        created=now - timezone.timedelta(minutes=i),
                    )
                    for i in range(start, stop)
                ]
            )
            variants, links, images = [], [], []
            for product in products:
                base = rng.randint(10, 2000) * 100 - 1
                for k in range(3):
                    variants.append(
                        ProductVariant(
                            product=product,
                            sku=f"BENCH-{product.slug[6:]}-{k}",
                            name=f"Option {k}",
                            price=Decimal(base + k * 1000),
                            stock_on_hand=rng.randint(0, 30),
                            sort_order=k,
                        )
                    )
                if pool:
                    images.append(
                        ProductImage(
                            product=product,
                            image=rng.choice(pool),
                            alt=product.name,
                            is_primary=True,
                        )
                    )
            variants = ProductVariant.objects.bulk_create(variants)
            for index, variant in enumerate(variants):
                links.append(
                    through(productvariant_id=variant.pk, attributevalue_id=storage[index % 2].pk)
                )
                if colour:
                    links.append(
                        through(
                            productvariant_id=variant.pk,
                            attributevalue_id=colour[index % len(colour)].pk,
                        )
                    )
            through.objects.bulk_create(links)
            ProductImage.objects.bulk_create(images)
            services.refresh_product_summaries(product_ids=[p.pk for p in products])
        created += len(products)
    if created and connection.vendor == "postgresql":
        # Fresh planner statistics: without them PostgreSQL ignores the
        # search indexes after a bulk load until autovacuum gets to it.
        with connection.cursor() as cursor:
            for table in ("shop_product", "shop_productvariant", "shop_productimage"):
                cursor.execute(f"ANALYZE {table}")
    return created
