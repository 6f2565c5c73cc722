"""Running heads, feet and page numbers (ocrflow/text/headers.py): removed where most pages of a
document repeat them at an edge, the body kept byte for byte; checked on made pages and on the
real PDFs' text layers."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ocrflow.inputs.inventory import clean_text_layer
from ocrflow.results.merge import mark_direction
from ocrflow.text.headers import PAGE_NUMBER, find_repeated, line_key, strip_headers_footers
from tests.support import real_pdfs

WORDS = ("quai", "chenal", "digue", "phare", "bassin", "ponton", "grue", "dock", "môle", "cale",
         "écluse", "balise", "hangar")


def body(i: int) -> list[str]:
    """Page ``i``'s text: none of its lines on another page."""
    word = WORDS[i % len(WORDS)]
    return [f"Le conseil municipal s'est réuni pour examiner le budget du {word}.",
            f"Les membres ont convenu que le {word} devait être achevé avant l'hiver.", "",
            f"Le {word} sera inspecté au printemps par les ingénieurs du port."]


def page(top: list[str], lines: list[str], bottom: list[str]) -> str:
    return "\n".join([*top, *lines, *bottom]) + "\n"


def bulletin_head(n: int) -> str:
    return f"{6050 + n} BULLETIN OFFICIEL Nº 7290 – 12 rabii I 1446 (16-9-2024)"


def test_french_running_heads_with_changing_page_numbers_and_dates() -> None:
    pages = [page([bulletin_head(n), f"Séance du {n} mars 2024"], body(n), [f"Page {n} / 8"])
             for n in range(1, 9)]
    texts, removed = strip_headers_footers(pages)
    for n, (text, gone) in enumerate(zip(texts, removed, strict=True), 1):
        if n == 1:  # the first page keeps its running head (it may be the title): not its number
            assert gone == ["Page 1 / 8"]
            assert text == page([bulletin_head(1), "Séance du 1 mars 2024"], body(1), [])
        else:
            assert gone == [bulletin_head(n), f"Séance du {n} mars 2024", f"Page {n} / 8"]
            assert text == page([], body(n), [])  # the body byte for byte
    all_pages, _ = strip_headers_footers(pages, keep_first=False)
    assert all_pages[0] == page([], body(1), [])


def test_a_table_starting_every_page_stays_whole() -> None:
    # a table continued from page to page, its heading row repeated at the top of each, as the
    # text layer's tables (ocrflow.inputs.structure) and the GPU engines write them
    table = ["<table>", "<tr><th>Nom</th><th>Grade</th></tr>"]
    pages = [page([bulletin_head(n), *table], [f"<tr><td>{w}</td><td>{n}</td></tr>", "</table>",
                                              *body(n)], [f"Page {n} / 6"])
             for n, w in enumerate(WORDS[:6], 1)]
    texts, removed = strip_headers_footers(pages)
    for n, (text, gone) in enumerate(zip(texts, removed, strict=True), 1):
        assert gone == ([] if n == 1 else [bulletin_head(n)]) + [f"Page {n} / 6"]
        assert text.startswith("<table>" if n > 1 else bulletin_head(1))
        assert text.count("<table>") == text.count("</table>") == 1


def test_arabic_running_heads_with_arabic_indic_digits() -> None:
    def indic(number: int) -> str:
        return str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))

    def head(n: int) -> str:
        return f"الجريدة الرسمية عدد {indic(7290)} – {indic(n + 11)} ربيع الأول {indic(1446)}"

    ministers = ["الداخلية", "المالية", "الصحة", "التعليم", "العدل", "الفلاحة", "الثقافة",
                 "النقل", "الطاقة", "السياحة", "الشباب", "الصناعة"]

    def arabic(n: int) -> list[str]:
        return [f"المادة {indic(n)}: يُنشر هذا المرسوم ويسند تنفيذه إلى وزير {ministers[n - 1]}،",
                f"ويعمل به ابتداء من تاريخ نشره بقرار من وزير {ministers[n - 1]}."]

    pages = [page([head(n)], arabic(n), [f"الصفحة {indic(n)} من ١٢"])
             for n in range(1, 13)]
    assert line_key(f"الصفحة {indic(3)} من ١٢") == PAGE_NUMBER
    texts, removed = strip_headers_footers(pages)
    for n, (text, gone) in enumerate(zip(texts, removed, strict=True), 1):
        assert gone == ([] if n == 1 else [head(n)]) + [f"الصفحة {indic(n)} من ١٢"]
        assert text == page([] if n > 1 else [head(1)], arabic(n), [])
        # stripped before merge wraps the right-to-left paragraph: the wrapper holds the body
        if n > 1:
            assert mark_direction(text.rstrip()) == ('<div dir="rtl">\n\n' + text.rstrip()
                                                    + "\n\n</div>")


@pytest.mark.parametrize("form", ["{n}", "- {n} -", "Page {n} of 6", "{n}/6", "p. {n}", "[{n}]",
                                  "{roman}", "PAGE {n}"])
def test_bare_page_numbers(form: str) -> None:
    romans = ["i", "ii", "iii", "iv", "v", "vi"]
    numbers = [form.format(n=n, roman=romans[n - 1]) for n in range(1, 7)]
    pages = [page([], body(n), [numbers[n - 1]]) for n in range(1, 7)]
    texts, removed = strip_headers_footers(pages)
    assert removed == [[number] for number in numbers]
    assert texts == [page([], body(n), []) for n in range(1, 7)]
    _, removed = strip_headers_footers([page([n], body(i), []) for i, n in
                                             enumerate(numbers, 1)])
    assert removed == [[number] for number in numbers]


def test_chapter_running_heads_follow_the_page_numbers() -> None:
    """Texinfo's "Chapter 4: Function reference 9": the title changes with the chapter, the
    number tracks the page (offset 3: front matter)."""
    chapters = ["Chapter 1: Introduction", "Chapter 2: Structures", "Appendix A: Copying"]
    pages = [page([f"{chapters[(n - 1) // 4]} {n - 3}" if n > 3 else "Contents"], body(n), [])
             for n in range(1, 13)]
    assert find_repeated(pages).folio_offset == -3
    texts, removed = strip_headers_footers(pages)
    assert removed[:3] == [[], [], []]
    assert [gone[0] for gone in removed[3:]] == [f"{chapters[(n - 1) // 4]} {n - 3}"
                                                 for n in range(4, 13)]
    assert texts[3:] == [page([], body(n), []) for n in range(4, 13)]


def test_a_two_page_document_is_untouched() -> None:
    pages = [page(["Rapport annuel 2023"], body(n), [f"- {n} -"]) for n in (1, 2)]
    assert strip_headers_footers(pages) == (pages, [[], []])


def test_a_line_on_40_percent_of_the_pages_stays_on_half_it_goes() -> None:
    def pages(with_head: set[int]) -> list[str]:
        return [page(["Chapitre II — Les finances"] if n in with_head else [], body(n), [])
                for n in range(1, 11)]

    scattered = pages({2, 3, 6, 9})  # the document's own heading on 4 of 10 pages
    assert strip_headers_footers(scattered) == (scattered, [[]] * 10)
    _, removed = strip_headers_footers(pages({2, 3, 6, 9, 10}))
    assert sum(map(len, removed)) == 5


def test_a_body_line_repeated_in_the_middle_stays() -> None:
    head = "Procès-verbal de la séance du conseil"
    repeated = ["Le conseil approuve à l'unanimité.", head]  # mid-page, on every page
    pages = [page([head], [*body(n)[:2], *repeated, *body(n)[2:]], []) for n in range(1, 7)]
    texts, removed = strip_headers_footers(pages)
    assert removed == [[]] + [[head]] * 5
    for text in texts[1:]:
        assert text.count(head) == 1 and repeated[0] in text


def test_a_page_whose_only_line_is_the_running_head_is_left_whole() -> None:
    """Emptied, it would read as a page with no text: left whole (the head stays)."""
    pages = [page(["CONFIDENTIEL"], body(n), []) for n in range(1, 7)]
    pages[3] = "CONFIDENTIEL\n"
    texts, removed = strip_headers_footers(pages)
    assert texts[3] == "CONFIDENTIEL\n" and removed[3] == []
    assert removed[4] == ["CONFIDENTIEL"] and texts[4] == page([], body(5), [])
    potato = ["Potato"] * 4  # the whole document is one line a page: its text, untouched
    assert strip_headers_footers(potato) == (potato, [[]] * 4)


def test_the_rest_is_kept_byte_for_byte() -> None:
    """CRLF line ends, Markdown, blank lines inside the body; the blank lines between a removed
    line and the text go with it; a page number inside the text stays (only edges go)."""
    def lines(n: int) -> str:
        return "\n".join([f"# Compte rendu du {WORDS[n]}", "",
                          f"**Présents** : M. Alami, Mme Bennani ({WORDS[n]})  ", "",
                          "| poste | montant |", "|---|---|", f"| {WORDS[n]} | 120 |", "",
                          f"Voir la page 3 pour le {WORDS[n]}."])

    pages = [f"Ville de Salé\r\n\r\n{lines(n)}\n\n- {n} -" for n in range(1, 6)]
    texts, removed = strip_headers_footers(pages, keep_first=False)
    assert removed == [["Ville de Salé\r", f"- {n} -"] for n in range(1, 6)]
    assert texts == [lines(n) for n in range(1, 6)]
    ending, _ = strip_headers_footers([p + "\n" for p in pages])  # its final line break kept
    assert ending[1:] == [lines(n) + "\n" for n in range(2, 6)]


def test_table_rows_whose_figures_change_are_not_a_running_foot() -> None:
    pages = [page([], body(n), [f"Total {n * 17} {n * 131} {n * 977}", f"{n * 3} {n * 5}"])
             for n in range(1, 7)]
    assert strip_headers_footers(pages) == (pages, [[]] * 6)


def test_pages_given_with_their_numbers() -> None:
    """The caller passes only the text-layer pages: their numbers keep the folio's offset."""
    numbers = [1, 2, 4, 5, 7, 8]
    pages = [page([f"Chapitre {n // 3}: Budget {n}"], body(n), []) for n in numbers]
    _, removed = strip_headers_footers(pages, numbers=numbers)
    assert removed[1:] == [[f"Chapitre {n // 3}: Budget {n}"] for n in numbers[1:]]


# Real PDFs: the test files of two PyPI source distributions (tests/support/real_pdfs.py).

def layer_texts(path: Path) -> list[str]:
    """Each page's text layer as the inventory records it."""
    doc = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for index in range(len(doc)):
            textpage = doc[index].get_textpage()
            texts.append(clean_text_layer(textpage.get_text_bounded()))
            textpage.close()
        return texts
    finally:
        doc.close()


def multipage_documents() -> dict[str, list[str]]:
    root = real_pdfs.fetch()  # PyPI out of reach fails the test with the reason
    found = {}
    for path in sorted(root.glob("*/**/*.pdf")):
        try:
            texts = layer_texts(path)
        except pdfium.PdfiumError:
            continue  # encrypted, broken: the inventory's business
        if len(texts) > 1 and any(t.strip() for t in texts):
            found[path.relative_to(root).as_posix()] = texts
    return found


def filled(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


DD0293 = "pikepdf-10.17.0/tests/resources/form_dd0293.pdf"


@pytest.mark.services  # the PDFs are fetched from PyPI on first use
def test_real_pdfs_lose_only_their_running_heads() -> None:
    documents = multipage_documents()
    assert len(documents) >= 10 and DD0293 in documents
    changed = {}
    for name, pages in documents.items():
        texts, removed = strip_headers_footers(pages)
        for before, after, gone in zip(pages, texts, removed, strict=True):
            assert filled(after) == [x for x in filled(before) if x not in gone], name
            assert sorted(gone) == sorted(x for x in filled(before) if x not in filled(after))
        if any(removed):
            changed[name] = removed
    # the DD Form 293: a two-line "CUI ... Page 2 of 4 DD FORM 293" head and an edition notice
    assert list(changed) == [DD0293]
    assert changed[DD0293][0] == []  # page 1 keeps its head once
    for number, gone in enumerate(changed[DD0293][1:], 2):
        assert gone == ["CUI (when filled in)",
                        f"CUI (when filled in) Page {number} of 4 DD FORM 293, FEB 2025",
                        "PREVIOUS EDITION IS OBSOLETE."]
    texts, _ = strip_headers_footers(documents[DD0293])
    assert texts[0].startswith("CUI (when filled in)\n")
    assert texts[2].startswith("PRIVACY ACT STATEMENT")
    assert texts[3].startswith("INSTRUCTIONS (Continued)")
    # four pages that each read "Potato" and nothing else: the document's text, kept
    potato = documents["pikepdf-10.17.0/tests/resources/content-stream-errors.pdf"]
    assert strip_headers_footers(potato)[0] == potato


MANUALS = {  # Debian's packages libtasn1-doc and shared-mime-info (make test installs them)
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf": 33,
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf": 33,
}


@pytest.mark.services  # Debian packages, installed as root
@pytest.mark.parametrize("manual", sorted(MANUALS))
def test_debian_manuals(manual: str) -> None:
    if not Path(manual).exists():
        pytest.fail(f"{manual} is missing: apt-get install libtasn1-doc shared-mime-info")
    pages = layer_texts(Path(manual))
    texts, removed = strip_headers_footers(pages)
    assert sum(map(len, removed)) == MANUALS[manual]
    for gone in removed:
        for line in gone:  # a page number, or a running head ending with one
            assert line.strip().isdigit() or line in ("Shared MIME-info Database",) or \
                line.startswith(("Chapter ", "Appendix A: Copying Information "))
    if "libtasn1" in manual:
        assert removed[11] == ["Chapter 4: Function reference 9"]
        assert texts[11].startswith("asn1 array2tree\n")
    else:
        assert removed[0] == ["1"] and pages[0].startswith("Shared MIME-info Database")
        assert all(gone[0] == "Shared MIME-info Database" for gone in removed[1:])
        assert "100.\n" in texts[4]  # a sentence's end at the foot of page 5, not its number
