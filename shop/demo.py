"""The demo catalogue: a Kenyan phone and electronics shop.

``seed_catalogue()`` is idempotent: everything is looked up by slug or SKU
and created only when missing, so running it twice changes nothing.
``seed_synthetic_products(n)`` adds *n* generated products for benchmarks.
"""

import functools
import hashlib
import io
import math
import random
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFilter

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


# --- Demo pictures -------------------------------------------------------------
# Each product is drawn locally with Pillow (no downloads) as its kind of
# device, in the colour its variant is named after. The kind comes from the
# product's category; a colour or category missing from the tables below is
# an error, not a silent grey.

#: Every colour named by a demo variant, as RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "Arctic Purple": (170, 150, 210),
    "Aurora Purple": (150, 110, 200),
    "Awesome Lilac": (196, 178, 226),
    "Awesome Navy": (36, 48, 92),
    "Basaltic Dark": (40, 42, 46),
    "Black": (28, 28, 30),
    "Black Titanium": (52, 52, 54),
    "Blue": (58, 112, 204),
    "Blue Black": (32, 40, 64),
    "Charcoal": (56, 58, 62),
    "Comet Green": (70, 150, 110),
    "Cosmic Red": (180, 30, 40),
    "Cyan": (40, 180, 200),
    "Cyber White": (236, 236, 238),
    "Glowing Black": (30, 32, 38),
    "Glowing Blue": (60, 120, 190),
    "Gold": (212, 180, 120),
    "Graphite": (70, 72, 76),
    "Graphite Gray": (84, 86, 90),
    "Gravity Black": (26, 26, 30),
    "Gray": (128, 130, 134),
    "Horizon Gold": (214, 180, 110),
    "Ice Blue": (170, 210, 235),
    "Lavender": (190, 170, 220),
    "Light Blue": (150, 190, 230),
    "Lunar Frost": (206, 218, 228),
    "Marble Grey": (178, 176, 172),
    "Matte Grey": (110, 112, 116),
    "Meteorite Grey": (90, 92, 96),
    "Midnight": (30, 36, 48),
    "Midnight Black": (22, 22, 28),
    "Midnight Blue": (30, 44, 80),
    "Mint": (170, 224, 200),
    "Mint Green": (160, 214, 180),
    "Moonlight White": (236, 238, 242),
    "Natural Titanium": (186, 178, 166),
    "Navy Blue": (30, 50, 100),
    "Obsidian Black": (30, 30, 34),
    "Olive Green": (110, 120, 70),
    "Onyx Black": (30, 30, 34),
    "Orange": (240, 120, 40),
    "Palm Blue": (80, 140, 180),
    "Pink": (236, 150, 180),
    "Purple": (120, 80, 180),
    "Red": (200, 40, 40),
    "Rock Black": (34, 34, 36),
    "Silver": (196, 198, 202),
    "Silver Gray": (170, 172, 176),
    "Silver Shadow": (190, 192, 196),
    "So Grey": (130, 132, 136),
    "So Purple": (140, 110, 180),
    "Space Grey": (100, 102, 106),
    "Starfall Green": (60, 120, 100),
    "Starlight": (240, 230, 210),
    "Starlit Black": (24, 26, 32),
    "Storm Grey": (100, 106, 114),
    "Teal": (60, 160, 160),
    "Temporal Orbits": (200, 196, 186),
    "Titan Blue": (70, 100, 140),
    "Titan Gold": (200, 170, 110),
    "Titan Gray": (120, 122, 126),
    "Titanium Black": (44, 44, 46),
    "Titanium Grey": (132, 130, 126),
    "Ultramarine": (70, 90, 210),
    "Uyuni Salt White": (238, 236, 230),
    "Vintage Green": (90, 120, 90),
    "Violet Garden": (150, 120, 200),
    "White": (244, 244, 242),
    "Yellow": (240, 205, 70),
}

#: The kind of picture drawn for the products of each demo category.
KIND_BY_CATEGORY = {
    "Smartphones": "phone",
    "Feature Phones": "feature-phone",
    "Laptops": "laptop",
    "Tablets": "tablet",
    "Headphones & Earbuds": "headphones",
    "Speakers": "speaker",
    "TVs": "tv",
    "Wearables": "smartwatch",
    "Chargers & Cables": "charger",
    "Power Banks": "power-bank",
    "Gaming": "console",
}

#: The colour of a kind's products whose variants name none.
DEFAULT_COLOUR = {
    "laptop": "Silver",
    "tv": "Black",
    "console": "White",
}

PICTURE_SIZE = 800
_BACKGROUND = {
    "phone": (238, 242, 247),
    "feature-phone": (241, 240, 236),
    "laptop": (236, 240, 246),
    "tablet": (240, 238, 246),
    "headphones": (243, 239, 236),
    "speaker": (236, 243, 240),
    "tv": (238, 240, 244),
    "smartwatch": (244, 240, 240),
    "charger": (240, 242, 238),
    "power-bank": (238, 242, 244),
    "console": (238, 238, 246),
}
_BACKDROPS_FOR_LIGHT = ((200, 208, 222), (226, 212, 194), (196, 188, 178))
_WHITE, _BLACK = (255, 255, 255), (0, 0, 0)
_SCREEN = (18, 22, 34)


def _mix(rgb, other, amount: float) -> tuple[int, int, int]:
    return tuple(round(a + (b - a) * amount) for a, b in zip(rgb, other, strict=True))


#: What each part of a drawing is painted with, given the device's colour.
_PAINTS = {
    "background": None,  # the backdrop's colour
    "body": lambda rgb: rgb,
    "light": lambda rgb: _mix(rgb, _WHITE, 0.3),
    "shade": lambda rgb: _mix(rgb, _BLACK, 0.15),
    "dark": lambda rgb: _mix(rgb, _BLACK, 0.3),
    "deep": lambda rgb: _mix(rgb, _BLACK, 0.5),
    "core": lambda rgb: _mix(rgb, _BLACK, 0.8),
    "screen": lambda rgb: _SCREEN,
    "glow": lambda rgb: _mix(_mix(rgb, (90, 140, 255), 0.35), _SCREEN, 0.45),
    "glow2": lambda rgb: _mix(_mix(rgb, (90, 140, 255), 0.35), _SCREEN, 0.15),
    "sky": lambda rgb: (70, 110, 180),
    "sky2": lambda rgb: (100, 150, 235),
    "ring": lambda rgb: _mix(rgb, (90, 200, 120), 0.5),
    "lens": lambda rgb: (14, 14, 18),
    "glint": lambda rgb: (90, 100, 120),
    "flash": lambda rgb: (250, 240, 200),
    "metal": lambda rgb: (170, 172, 178),
    "led": lambda rgb: (80, 220, 140),
    "label": lambda rgb: (200, 210, 230),
}
#: The parts by name, as the index a drawing paints them with.
_PART = type("Parts", (), {name: index for index, name in enumerate(_PAINTS)})


class _Pen:
    """Draw in picture coordinates on the device's region, at twice the size.

    A drawing paints parts (``_PART.body``, ``_PART.screen``...), not colours,
    so each kind is drawn once and coloured per picture through a palette;
    the double size gives smooth edges once halved.
    """

    SCALE = 2

    def __init__(self, box: tuple[int, int, int, int]):
        self.box = box
        left, top, right, bottom = box
        size = ((right - left) * self.SCALE, (bottom - top) * self.SCALE)
        self.region = Image.new("P", size, _PART.background)
        self.draw = ImageDraw.Draw(self.region)

    def _xy(self, points):
        left, top = self.box[:2]
        return [((x - left) * self.SCALE, (y - top) * self.SCALE) for x, y in points]

    def _rect(self, box):
        (x0, y0), (x1, y1) = self._xy([box[:2], box[2:]])
        return (x0, y0, x1, y1)

    def rect(self, box, part: int, radius: float = 0):
        self.draw.rounded_rectangle(self._rect(box), radius=radius * self.SCALE, fill=part)

    def ellipse(self, box, part: int):
        self.draw.ellipse(self._rect(box), fill=part)

    def circle(self, x, y, r, part: int):
        self.ellipse((x - r, y - r, x + r, y + r), part)

    def polygon(self, points, part: int):
        self.draw.polygon(self._xy(points), fill=part)

    def line(self, points, part: int, width: float):
        self.draw.line(self._xy(points), fill=part, width=round(width * self.SCALE), joint="curve")

    def arc(self, box, start, end, part: int, width: float):
        self.draw.arc(self._rect(box), start, end, fill=part, width=round(width * self.SCALE))


def _screen(pen: _Pen, box, radius: float = 0, glow=_PART.glow, glow2=_PART.glow2):
    """A lit screen: dark glass with a wallpaper of two soft discs."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pen.rect(box, _PART.screen, radius)
    pen.ellipse((x0 + w * 0.05, y0 + h * 0.45, x0 + w * 0.95, y0 + h * 1.0 - 2), glow)
    pen.ellipse((x0 + w * 0.25, y0 + h * 0.2, x0 + w * 0.8, y0 + h * 0.7), glow2)


def _draw_phone(pen: _Pen, p=_PART):
    # The front, behind on the left.
    pen.rect((170, 120, 420, 660), p.dark, 36)
    _screen(pen, (182, 132, 408, 648), 28)
    pen.circle(295, 152, 7, p.lens)
    # The back, in front on the right.
    pen.rect((350, 150, 610, 700), p.dark, 40)
    pen.rect((354, 152, 610, 696), p.body, 38)
    pen.rect((356, 160, 366, 690), p.light, 5)
    pen.rect((380, 180, 500, 330), p.shade, 28)
    for cx, cy in ((412, 215), (468, 215), (412, 292)):
        pen.circle(cx, cy, 24, p.dark)
        pen.circle(cx, cy, 17, p.lens)
        pen.circle(cx - 5, cy - 5, 4, p.glint)
    pen.circle(468, 292, 9, p.flash)


def _draw_feature_phone(pen: _Pen, p=_PART):
    pen.rect((290, 100, 510, 700), p.body, 60)
    pen.rect((296, 110, 306, 690), p.light, 5)
    pen.rect((360, 130, 440, 142), p.dark, 6)
    _screen(pen, (325, 170, 475, 330), 6)
    pen.rect((320, 350, 480, 420), p.dark, 26)
    pen.circle(400, 385, 24, p.light)
    for row in range(4):
        for col in range(3):
            x, y = 322 + col * 54, 440 + row * 56
            pen.rect((x, y, x + 48, y + 44), p.dark, 12)
            pen.rect((x + 14, y + 18, x + 34, y + 26), p.light, 3)


def _draw_laptop(pen: _Pen, p=_PART):
    pen.rect((160, 150, 640, 480), p.body, 18)
    _screen(pen, (178, 168, 622, 464), 6)
    pen.circle(400, 159, 4, p.lens)
    pen.polygon([(160, 478), (640, 478), (712, 560), (88, 560)], p.light)
    pen.polygon([(180, 490), (620, 490), (650, 530), (150, 530)], p.shade)
    for row in range(3):
        y = 494 + row * 12
        pen.line([(190 - row * 10, y), (610 + row * 10, y)], p.deep, 2)
    pen.rect((330, 536, 470, 554), p.shade, 4)
    pen.rect((80, 558, 720, 578), p.body, 10)
    pen.rect((360, 558, 440, 566), p.dark, 3)


def _draw_tablet(pen: _Pen, p=_PART):
    # The back, behind on the right, landscape.
    pen.rect((240, 120, 720, 470), p.dark, 34)
    pen.rect((244, 122, 720, 466), p.body, 32)
    pen.rect((250, 128, 716, 138), p.light, 5)
    pen.rect((640, 150, 700, 210), p.shade, 16)
    pen.circle(670, 180, 16, p.lens)
    # The front, in front on the left.
    pen.rect((80, 300, 470, 600), p.dark, 30)
    _screen(pen, (96, 316, 454, 584), 20)


def _draw_headphones(pen: _Pen, p=_PART):
    pen.arc((200, 110, 600, 540), 180, 360, p.body, 46)
    pen.arc((214, 124, 586, 526), 200, 340, p.light, 8)
    for x0 in (170, 510):
        pen.rect((x0 + 32, 300, x0 + 88, 400), p.dark, 16)
        pen.ellipse((x0, 370, x0 + 120, 620), p.body)
        inner = x0 + 70 if x0 < 400 else x0
        pen.ellipse((inner, 388, inner + 50, 602), p.dark)
        pen.ellipse((x0 + 18, 400, x0 + 50, 470), p.light)


def _draw_speaker(pen: _Pen, p=_PART):
    pen.rect((120, 290, 680, 520), p.body, 115)
    pen.rect((170, 300, 630, 318), p.light, 9)
    for x in (128, 560):
        pen.ellipse((x, 312, x + 112, 498), p.dark)
        pen.ellipse((x + 22, 346, x + 90, 464), p.shade)
    pen.rect((350, 380, 450, 430), p.dark, 14)
    pen.rect((366, 396, 434, 414), p.light, 6)
    for x in (300, 340, 460, 500):
        pen.circle(x, 484, 7, p.dark)


def _draw_tv(pen: _Pen, p=_PART):
    pen.rect((310, 560, 490, 590), p.shade, 8)
    pen.rect((385, 500, 415, 570), p.shade, 6)
    pen.rect((70, 150, 730, 530), p.shade, 10)
    _screen(pen, (80, 160, 720, 516), 4, glow=p.sky, glow2=p.sky2)
    pen.rect((390, 520, 410, 526), p.label, 3)


def _draw_smartwatch(pen: _Pen, p=_PART):
    pen.rect((320, 70, 480, 730), p.body, 50)
    for y in range(600, 720, 34):
        pen.circle(400, y, 7, p.dark)
    pen.rect((500, 330, 524, 400), p.dark, 8)
    pen.rect((270, 250, 530, 560), p.dark, 70)
    pen.rect((276, 254, 524, 554), p.body, 66)
    pen.rect((286, 262, 300, 540), p.light, 7)
    pen.rect((298, 276, 502, 538), p.screen, 50)
    pen.arc((330, 320, 470, 460), 135, 405, p.ring, 12)
    pen.rect((366, 474, 434, 490), p.label, 6)


def _draw_charger(pen: _Pen, p=_PART):
    cable = [(400, 470), (410, 560), (480, 620), (600, 600), (640, 520), (600, 450)]
    pen.line(cable, p.dark, 24)
    pen.line(cable, p.body, 16)
    pen.rect((578, 360, 622, 460), p.body, 10)
    pen.rect((588, 330, 612, 362), p.metal, 4)
    pen.rect((372, 430, 428, 490), p.body, 8)
    for box in ((300, 110, 328, 200), (472, 110, 500, 200), (386, 80, 414, 170)):
        pen.rect(box, p.metal, 3)
    pen.rect((240, 170, 560, 450), p.dark, 44)
    pen.rect((240, 166, 556, 446), p.body, 42)
    pen.rect((252, 180, 266, 432), p.light, 7)
    pen.rect((370, 416, 430, 432), p.dark, 6)


def _draw_power_bank(pen: _Pen, p=_PART):
    pen.polygon([(150, 300), (195, 255), (655, 255), (610, 300)], p.light)
    pen.polygon([(610, 300), (655, 255), (655, 515), (610, 560)], p.dark)
    pen.rect((150, 300, 610, 560), p.body, 16)
    for i in range(4):
        pen.circle(470 + i * 30, 524, 8, p.led if i < 3 else p.dark)
    pen.rect((200, 515, 250, 533), p.lens, 5)
    pen.rect((270, 515, 340, 533), p.lens, 4)
    pen.polygon([(624, 360), (640, 344), (640, 400), (624, 416)], p.lens)


def _draw_console(pen: _Pen, p=_PART):
    # The console, standing.
    pen.ellipse((250, 640, 450, 690), p.dark)
    pen.rect((330, 80, 372, 660), p.core, 14)
    pen.polygon([(250, 110), (340, 90), (340, 650), (260, 640)], p.body)
    pen.polygon([(362, 90), (450, 110), (440, 640), (362, 650)], p.body)
    pen.polygon([(262, 118), (276, 116), (282, 632), (270, 632)], p.light)
    # The controller, in front on the right.
    pen.ellipse((380, 470, 520, 700), p.body)
    pen.ellipse((580, 470, 720, 700), p.body)
    pen.rect((400, 430, 700, 590), p.body, 60)
    pen.rect((480, 440, 620, 510), p.shade, 16)
    pen.circle(500, 560, 26, p.core)
    pen.circle(600, 560, 26, p.core)
    for dx, dy in ((0, -20), (20, 0), (0, 20), (-20, 0)):
        pen.circle(440 + dx, 500 + dy, 9, p.dark)
        pen.circle(660 + dx, 500 + dy, 9, p.dark)


_DRAWINGS = {
    "phone": (_draw_phone, (150, 100, 630, 720)),
    "feature-phone": (_draw_feature_phone, (270, 80, 530, 720)),
    "laptop": (_draw_laptop, (60, 130, 740, 600)),
    "tablet": (_draw_tablet, (60, 100, 740, 620)),
    "headphones": (_draw_headphones, (150, 90, 650, 640)),
    "speaker": (_draw_speaker, (100, 270, 700, 540)),
    "tv": (_draw_tv, (50, 130, 750, 610)),
    "smartwatch": (_draw_smartwatch, (250, 50, 550, 750)),
    "charger": (_draw_charger, (220, 60, 680, 660)),
    "power-bank": (_draw_power_bank, (130, 235, 680, 590)),
    "console": (_draw_console, (230, 60, 740, 720)),
}


def picture_kind(category_name: str) -> str:
    """Return the kind of picture for a demo category (KeyError when unknown)."""
    return KIND_BY_CATEGORY[category_name]


def picture_colour(kind: str, colour_name: str = "") -> tuple[int, int, int]:
    """Return the RGB of a variant's colour, or the kind's own without one."""
    return COLOURS[colour_name or DEFAULT_COLOUR.get(kind, "Black")]


@functools.lru_cache(maxsize=32)
def _backdrop(background, box) -> Image.Image:
    """The soft background with a shadow under where the device stands."""
    size = PICTURE_SIZE
    canvas = Image.new("RGB", (size, size), background)
    # A blurred ellipse drawn small and scaled up: soft edges, no flat core.
    left, _, right, bottom = box
    mask = Image.new("L", (size // 4, 40), 0)
    ImageDraw.Draw(mask).ellipse((left // 4 + 6, 14, right // 4 - 6, 26), fill=110)
    mask = mask.filter(ImageFilter.GaussianBlur(5)).resize((size, 160))
    canvas.paste(_mix(background, _BLACK, 0.45), (0, bottom - 100), mask)
    return canvas


@functools.cache
def _parts(kind: str) -> tuple[Image.Image, Image.Image]:
    """A kind's drawing as parts at twice the size, and where it covers the picture."""
    drawing, box = _DRAWINGS[kind]
    pen = _Pen(box)
    drawing(pen)
    covered = pen.region.point(lambda part: 255 if part else 0, "L").reduce(_Pen.SCALE)
    return pen.region, covered.point(lambda value: 255 if value else 0)


def draw_picture(kind: str, colour_name: str = "") -> Image.Image:
    """Draw a product of *kind* in the named colour on a soft background."""
    rgb = picture_colour(kind, colour_name)
    background = _BACKGROUND[kind]
    if math.dist(background, rgb) < 70:  # a light device: a deeper backdrop
        background = next(
            (tone for tone in _BACKDROPS_FOR_LIGHT if math.dist(tone, rgb) >= 45),
            max(_BACKDROPS_FOR_LIGHT, key=lambda tone: math.dist(tone, rgb)),
        )
    parts, covered = _parts(kind)
    painted = parts.copy()
    painted.putpalette(
        [
            channel
            for paint in _PAINTS.values()
            for channel in (paint or (lambda _: background))(rgb)
        ]
    )
    box = _DRAWINGS[kind][1]
    canvas = _backdrop(background, box).copy()
    canvas.paste(painted.convert("RGB").reduce(_Pen.SCALE), box[:2], covered)
    return canvas


@functools.lru_cache(maxsize=256)
def _picture_bytes(kind: str, colour_name: str) -> bytes:
    buffer = io.BytesIO()
    draw_picture(kind, colour_name).save(buffer, format="JPEG", quality=86)
    return buffer.getvalue()


def _picture(label: str, kind: str, colour_name: str) -> ContentFile:
    """The demo picture of a product (or of its variants in one colour)."""
    return ContentFile(_picture_bytes(kind, colour_name), name=f"{slugify(label)[:60]}.jpg")


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
        kind = picture_kind(category)
        for order, (colour, variant) in enumerate(pictures.items()):
            label = f"{name} {colour}".strip()
            ProductImage.objects.create(
                product=product,
                variant=variant,
                image=_picture(label, kind, colour),
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
