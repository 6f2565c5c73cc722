"""One naming of scripts for trust and the engines: a letter's script by Unicode, Tesseract's
OSD names mapped onto the same names, and which way letters read."""

from __future__ import annotations

from ocrflow.engines.tesseract_scripts import SCRIPTS, script_of
from ocrflow.text.scripts import (
    UNKNOWN,
    char_script,
    is_right_to_left,
    mostly_right_to_left,
    osd_script,
)


def test_a_letter_is_named_by_its_unicode_script() -> None:
    assert char_script("中") == "HAN"  # CJK UNIFIED IDEOGRAPH-4E2D: the ideographs are Han
    assert char_script("한") == "HANGUL"  # HANGUL SYLLABLE HAN: not Han
    assert char_script("ひ") == "HIRAGANA"
    assert char_script("ب") == "ARABIC"
    assert char_script("ﺏ") == "ARABIC"  # a presentation form
    assert char_script("é") == char_script("A") == "LATIN"
    assert char_script("ж") == "CYRILLIC"
    assert char_script("א") == "HEBREW"
    assert char_script("\U000e0080") == UNKNOWN  # unassigned: no name


def test_osd_names_map_onto_the_same_names() -> None:
    """Tesseract's OSD names a page's script; mapped, it is the name of its letters' script,
    and of the languages the engine routes it to."""
    for osd, letter in (("Latin", "a"), ("Arabic", "ب"), ("Cyrillic", "ж"), ("Greek", "α"),
                        ("Hebrew", "א"), ("Han", "中"), ("Korean", "한"), ("Hangul", "한"),
                        ("Devanagari", "क"), ("Thai", "ก"), ("Fraktur", "a")):
        assert osd_script(osd) == char_script(letter), osd
    assert osd_script("Japanese") == "JAPANESE" and script_of("jpn") == "JAPANESE"
    assert script_of("ara") == osd_script("Arabic") and script_of("fra") == osd_script("Latin")
    assert script_of("kor") == osd_script("Korean") and script_of("chi_sim") == osd_script("Han")
    assert script_of("xyz") is None
    assert set(SCRIPTS) - {"JAPANESE"} == {char_script(c) for c in "aبжαא中한कก"}


def test_which_way_letters_read() -> None:
    assert is_right_to_left("ب") and is_right_to_left("א") and not is_right_to_left("a")
    assert mostly_right_to_left("المكتبة البلدية de Rabat")
    assert not mostly_right_to_left("Bibliothèque municipale de Rabat المكتبة")
    assert not mostly_right_to_left("12 345,00") and not mostly_right_to_left("")
