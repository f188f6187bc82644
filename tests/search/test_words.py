"""How the search reads its words (panel.search.words): dates of birth in every common form, NHS
numbers with or without spaces, postcodes, references, names folded; and how names are scored."""

from __future__ import annotations

from datetime import date

import pytest

from panel.forms.errors import ServiceError
from panel.search.words import fold, name_score, trigrams, understand

TODAY = date(2027, 1, 14)


@pytest.mark.parametrize("typed", [
    "3/4/1980", "03/04/1980", "03-04-1980", "3-4-1980", "3.4.1980", "03.04.80", "3/4/80", "3 4 1980",
    "3 April 1980", "3 april 1980", "3rd April 1980", "3rd of April 1980", "03 Apr 1980", "3 Apr. 1980",
    "3-Apr-1980", "3 APRIL 80", "April 3, 1980", "Apr 3rd 1980", "1980-04-03", "1980/4/3", "03041980",
])
def test_a_date_of_birth_in_any_common_form_is_read_day_first(typed):
    understood = understand(typed, TODAY)
    assert understood.date_of_birth == date(1980, 4, 3)
    assert understood.name_words == () and understood.nhs_number is None


def test_a_two_digit_year_makes_the_person_an_adult():
    assert understand("1/2/03", TODAY).date_of_birth == date(2003, 2, 1)   # 23 years old
    assert understand("1/2/10", TODAY).date_of_birth == date(1910, 2, 1)   # 2010 would make a child


@pytest.mark.parametrize("typed", ["31/2/1980", "3/13/1980", "0/4/1980", "31 June 1980"])
def test_a_date_that_is_not_real_is_an_error_on_the_search_box(typed):
    with pytest.raises(ServiceError) as error:
        understand(typed, TODAY)
    assert error.value.field == "q" and "real date of birth" in error.value.message


@pytest.mark.parametrize("typed", ["943 476 5919", "9434765919", "943-476-5919", " 943  476 5919 "])
def test_an_nhs_number_with_or_without_spaces(typed):
    assert understand(typed, TODAY).nhs_number == "9434765919"


@pytest.mark.parametrize("typed, postcode, outward", [
    ("LU1 2AB", "LU1 2AB", None), ("lu12ab", "LU1 2AB", None), ("sw1a 1aa", "SW1A 1AA", None),
    ("lu1", None, "LU1"), ("EC1A", None, "EC1A"),
])
def test_a_postcode_whole_or_its_outward_code(typed, postcode, outward):
    understood = understand(typed, TODAY)
    assert (understood.postcode, understood.outward_code) == (postcode, outward)


@pytest.mark.parametrize("typed, case, referral", [
    ("CASPA-2027-004", "CASPA-2027-004", None), ("caspa 2027 4", "CASPA-2027-004", None),
    ("Caspa-2027-12", "CASPA-2027-012", None), ("R-2027-00042", None, "R-2027-00042"),
    ("r-2027-42", None, "R-2027-00042"),
])
def test_case_and_referral_references_however_typed(typed, case, referral):
    understood = understand(typed, TODAY)
    assert (understood.case_reference, understood.referral_reference) == (case, referral)


def test_everything_at_once():
    understood = understand("Jane O'Brien-Smith 3/4/1980 LU1 2AB", TODAY)
    assert understood.name_words == ("jane", "o", "brien", "smith")
    assert understood.date_of_birth == date(1980, 4, 3) and understood.postcode == "LU1 2AB"


def test_an_initial_and_a_date_are_not_a_referral_reference():
    understood = understand("Smith R 1980-04-03", TODAY)
    assert understood.referral_reference is None and understood.date_of_birth == date(1980, 4, 3)
    assert understood.name_words == ("smith", "r")


@pytest.mark.parametrize("typed", ["", "   ", "12", "---", "'", "\u200b", "%", "!!"])
def test_nothing_to_search_by(typed):
    assert understand(typed, TODAY).empty


def test_folding_takes_off_accents_case_and_punctuation():
    assert fold("Zoë LEFÈVRE") == "zoe lefevre"
    assert fold("O’Sullivan-Byrne") == "o sullivan byrne"
    assert fold("Łukasz Øberg Straße") == "lukasz oberg strasse"
    assert fold("𝔍𝔬𝔥𝔫") == "john"  # letters that only look different


def test_trigrams_are_of_each_word_with_a_space_either_side():
    assert trigrams(("ann",)) == [" an", "ann", "nn "]
    assert trigrams(('a"b',)) == []  # nothing that could end an FTS5 phrase


def score(typed: str, given: str, family: str, other: str = "") -> float:
    return name_score(tuple(fold(typed).split()), given, family, other)


def test_the_closest_spelling_scores_highest():
    assert score("Katharine Pemberton", "Katherine", "Pemberton") > score("Katharine Pemberton", "Catherine",
                                                                         "Pemberton")
    assert score("Katharine Pemberton", "Katherine", "Pemberton") > score(
        "Katharine Pemberton", "Katherine", "Pemberton-Hughes")


def test_swapped_names_hyphens_spacing_and_accents_score_as_the_name():
    assert score("Okonkwo Chidi", "Chidi", "Okonkwo") == 1.0
    assert score("Mary Smithjones", "Mary", "Smith-Jones") > score("Mary Smithjones", "Mary", "Smith")
    assert score("Ewan Mc Donald", "Ewan", "McDonald") > score("Ewan Mc Donald", "Ewan", "Donald")
    assert score("Zoe Lefevre", "Zoë", "Lefèvre") == 1.0


def test_any_part_of_a_name_and_other_names():
    assert score("pemb", "Kate", "Pemberton") >= 0.6
    assert score("Smith", "John", "Smith") == 1.0
    assert score("Jonny Smith", "John", "Smith", other="Jonny, JJ") == 1.0
    assert score("Smith", "John", "Brown") < 0.6
