"""The list of Kenya's counties kept in code."""

from accounts.counties import COUNTIES, COUNTIES_BY_NAME, COUNTY_NAMES
from accounts.forms import AddressForm
from accounts.models import Address


def test_there_are_exactly_47_counties_numbered_1_to_47_in_order():
    assert len(COUNTIES) == 47
    assert [code for code, _ in COUNTIES] == list(range(1, 48))


def test_county_names_are_unique_and_tidy():
    names = [name for _, name in COUNTIES]
    assert len(set(names)) == 47
    assert len({name.casefold() for name in names}) == 47
    assert all(name == name.strip() and name for name in names)


def test_official_numbering_and_spelling():
    assert COUNTY_NAMES[1] == "Mombasa"
    assert COUNTY_NAMES[6] == "Taita-Taveta"
    assert COUNTY_NAMES[13] == "Tharaka-Nithi"
    assert COUNTY_NAMES[21] == "Murang'a"
    assert COUNTY_NAMES[22] == "Kiambu"
    assert COUNTY_NAMES[24] == "West Pokot"
    assert COUNTY_NAMES[26] == "Trans Nzoia"
    assert COUNTY_NAMES[27] == "Uasin Gishu"
    assert COUNTY_NAMES[28] == "Elgeyo-Marakwet"
    assert COUNTY_NAMES[43] == "Homa Bay"
    assert COUNTY_NAMES[47] == "Nairobi"


def test_select_box_lists_the_same_counties_alphabetically():
    assert sorted(COUNTIES_BY_NAME) == COUNTIES
    names = [name for _, name in COUNTIES_BY_NAME]
    assert names == sorted(names)
    form_choices = AddressForm().fields["county"].choices
    assert form_choices[0][0] == ""
    assert form_choices[1:] == COUNTIES_BY_NAME


def test_model_choices_are_the_counties():
    assert Address._meta.get_field("county").choices == COUNTIES
