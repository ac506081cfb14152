"""The demo's pictures: each kind of device drawn as itself, in its colour."""

import math
import re

import pytest
from PIL import Image

from shop import demo
from shop.models import AttributeValue, Category, Product, ProductImage

#: The colour every kind is drawn in when comparing shapes.
SHAPE_COLOUR = "Teal"


def distance(a, b) -> float:
    return math.dist(a[:3], b[:3])


def silhouette(image: Image.Image, cells: int = 20) -> list[bool]:
    """Which cells of a cells × cells grid the device covers (not the background)."""
    background = image.getpixel((0, 0))
    small = image.reduce(image.width // cells)
    return [distance(pixel, background) > 60 for pixel in small.get_flattened_data()]


def dominant_colour(image: Image.Image) -> tuple[int, int, int]:
    """The most common colour of the picture that is not its background."""
    background = image.getpixel((0, 0))
    clusters = image.reduce(4).quantize(colors=12, method=Image.Quantize.MEDIANCUT)
    palette = clusters.getpalette()
    counted = sorted(clusters.getcolors(), reverse=True)
    for _, index in counted:
        rgb = tuple(palette[index * 3 : index * 3 + 3])
        if distance(rgb, background) > 25:
            return rgb
    raise AssertionError("the picture is all background")


@pytest.fixture
def catalogue(db):
    demo.seed_catalogue()
    return Product.objects.select_related("category")


def test_each_kind_of_device_has_its_own_drawing():
    shapes = {kind: silhouette(demo.draw_picture(kind, SHAPE_COLOUR)) for kind in demo._DRAWINGS}
    phone = shapes["phone"]
    for kind, shape in shapes.items():
        assert len(shape) == len(phone) == 400
        assert any(shape), kind
        if kind != "phone":
            differing = sum(a != b for a, b in zip(shape, phone, strict=True))
            assert differing >= 40, f"{kind} looks like a phone ({differing} cells differ)"
    assert len({tuple(shape) for shape in shapes.values()}) == len(shapes)


def test_a_picture_is_800_pixels_square_on_a_soft_background():
    image = demo.draw_picture("tv")
    assert image.size == (800, 800)
    corner = image.getpixel((0, 0))
    assert min(corner) > 200  # light, not white
    assert image.getpixel((799, 799)) == corner
    # The shadow under the device is darker than the background, and soft.
    shadow = [image.getpixel((400, y)) for y in range(590, 700)]
    assert min(sum(p) for p in shadow) < sum(corner) - 40
    assert len(set(shadow)) > 10


@pytest.mark.parametrize(
    ("kind", "colour"),
    [
        ("phone", "Midnight Black"),
        ("tablet", "Blue"),
        ("speaker", "Teal"),
        ("smartwatch", "Pink"),
        ("headphones", "White"),
        ("phone", "Titanium Grey"),
        ("console", "Cosmic Red"),
    ],
)
def test_the_device_is_drawn_in_the_colour_it_is_named_after(kind, colour):
    found = dominant_colour(demo.draw_picture(kind, colour))
    assert distance(found, demo.COLOURS[colour]) < 30, (found, demo.COLOURS[colour])


def test_an_unknown_colour_or_category_is_an_error_not_a_grey():
    with pytest.raises(KeyError):
        demo.picture_colour("phone", "Unheard-of Orange")
    with pytest.raises(KeyError):
        demo.picture_kind("Garden Furniture")


def test_every_colour_and_category_of_the_demo_is_in_the_tables(catalogue):
    colours = set(
        AttributeValue.objects.filter(attribute__slug="colour").values_list("value", flat=True)
    )
    assert len(colours) > 40
    assert colours <= set(demo.COLOURS), colours - set(demo.COLOURS)
    categories = set(catalogue.values_list("category__name", flat=True))
    assert categories <= set(demo.KIND_BY_CATEGORY), categories - set(demo.KIND_BY_CATEGORY)
    assert Category.objects.filter(name__in=demo.KIND_BY_CATEGORY).count() == len(
        demo.KIND_BY_CATEGORY
    )
    # No colour is named by a product itself without being a variant's colour.
    for name in catalogue.values_list("name", flat=True):
        assert not any(re.search(rf"\b{colour}\b", name) for colour in demo.COLOURS), name


def test_every_demo_product_has_a_picture_per_colour_in_that_colour(catalogue):
    images = ProductImage.objects.select_related("product__category", "variant")
    assert set(images.values_list("product", flat=True)) == set(
        catalogue.values_list("pk", flat=True)
    )
    assert images.filter(is_primary=True).count() == catalogue.count()
    checked = 0
    for product in catalogue.prefetch_related("variants__values__attribute"):
        colours = {
            value.value
            for variant in product.variants.all()
            for value in variant.values.all()
            if value.attribute.slug == "colour"
        }
        pictured = {}
        for image in product.images.select_related("variant").prefetch_related(
            "variant__values__attribute"
        ):
            colour = next(
                (
                    value.value
                    for value in (image.variant.values.all() if image.variant else [])
                    if value.attribute.slug == "colour"
                ),
                "",
            )
            pictured[colour] = image
        assert set(pictured) == (colours or {""}), product.name
        for colour, image in pictured.items():
            with Image.open(image.image.path) as picture:
                assert picture.size == (800, 800)
                if not colour:
                    continue
                found = dominant_colour(picture.convert("RGB"))
            named = demo.COLOURS[colour]
            assert distance(found, named) < 30, (product.name, colour, found, named)
            checked += 1
    assert checked > 100
