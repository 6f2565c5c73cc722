"""The table corpus's documents, written here in the style of the Moroccan Bulletin officiel
(appointments, tariffs, budgets, lists of names; French and Arabic): the one source of the
sources (HTML, LaTeX), of the PDFs and of the tests' ground truth (make_corpus.py).

A right-to-left table's rows list their cells in reading order: the first cell is the rightmost
one on the page. A cell's "\\n" is a line break inside it; its text for the tests is its lines
joined by a space. Numbers in Arabic tables use no plain space inside them (a space between two
numbers would let the bidirectional algorithm swap the groups): Arabic-Indic digits take the
Arabic thousands separator, Latin digits a no-break space.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

NB = "\u00a0"  # no-break space: thousands separator of Latin-digit numbers


@dataclass
class Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    heading: bool = False
    align: str = ""  # "right" for amounts


@dataclass
class Table:
    name: str
    rows: list[list[Cell]]
    style: str = "grid"  # grid: every rule; rules: booktabs (horizontal only); plain: none
    rtl: bool = False
    header_rows: int = 1
    width_pct: int = 100
    tex_columns: str = ""  # LaTeX column spec where the default (l columns) does not fit
    multirow_width: str = "*"
    split_after: int = 0  # LaTeX: rows before the column break (a table across two columns)
    widths: list[int] = field(default_factory=list)  # HTML: each column's share of the width, %


@dataclass
class Heading:
    text: str
    level: int = 2
    rtl: bool = False
    test: bool = True


@dataclass
class Paragraph:
    text: str
    rtl: bool = False
    justify: bool = True
    test: bool = True


@dataclass
class PageBreak:
    pass


Block = Heading | Paragraph | Table | PageBreak | str  # str: "columns", "end columns", "vfill"


@dataclass
class Document:
    name: str
    maker: str  # office (LibreOffice from HTML) or latex (pdflatex)
    lang: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    columns: int = 1  # LaTeX: the whole page in two columns

    def tables(self) -> Iterator[tuple[int, Table]]:
        page = 1
        for block in self.blocks:
            if isinstance(block, PageBreak):
                page += 1
            elif isinstance(block, Table):
                yield page, block


def head(*texts: str) -> list[Cell]:
    return [Cell(t, heading=True) for t in texts]


def row(*texts: str, amounts: int = 0) -> list[Cell]:
    """A body row; its last ``amounts`` cells aligned right."""
    n = len(texts)
    return [Cell(t, align="right" if i >= n - amounts else "") for i, t in enumerate(texts)]


def arabic_digits(text: str) -> str:
    """Latin digits to Arabic-Indic ones, "," to the Arabic thousands separator, "." to the
    Arabic decimal separator (inside numbers only)."""
    out = []
    for i, c in enumerate(text):
        between = 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        if c.isdigit():
            out.append(chr(0x0660 + int(c)))
        elif c == "," and between:
            out.append("\u066c")
        elif c == "." and between:
            out.append("\u066b")
        else:
            out.append(c)
    return "".join(out)


def A(text: str) -> str:  # short: used in every Arabic-Indic row
    return arabic_digits(text)


def n(amount: str) -> str:
    """A Latin-digit amount written with spaces: no-break spaces."""
    return amount.replace(" ", NB)


# --- French, LibreOffice ------------------------------------------------------------------

FR_NOMINATIONS = Document("fr_nominations_grille", "office", "fr", "Nominations", [
    Heading("Ministère de l'Économie et des Finances", 1),
    Heading("Arrêté n° 1452-25 du 12 mai 2025 portant nomination de chefs de service"),
    Paragraph("Par arrêté du ministre de l'économie et des finances, les fonctionnaires dont les "
              "noms suivent sont nommés chefs de service à compter des dates indiquées ci-après :"),
    Table("nominations", [
        head("N°", "Nom et prénom", "Grade", "Affectation", "Date d'effet"),
        row("1", "Amrani Said", "Administrateur de 2e grade", "Direction du Budget", "01/02/2025"),
        row("2", "Bennis Houda", "Ingénieur en chef", "Trésorerie Générale du Royaume",
            "15/02/2025"),
        row("3", "Cherkaoui Anas", "Administrateur de 1er grade", "Direction des Impôts",
            "01/03/2025"),
        row("4", "Dahbi Loubna", "Ingénieur d'État", "Administration des Douanes", "10/03/2025"),
        row("5", "El Fassi Karim", "Administrateur de 3e grade", "Direction du Trésor",
            "01/04/2025"),
        row("6", "Filali Meryem", "Inspecteur des finances", "Inspection Générale des Finances",
            "15/04/2025"),
        row("7", "Ghazali Rachid", "Administrateur de 2e grade",
            "Direction des Domaines de l'État", "02/05/2025"),
        row("8", "Haddad Samira", "Ingénieur en chef", "Direction des Entreprises Publiques",
            "12/05/2025"),
    ]),
    Paragraph("Le présent arrêté sera publié au Bulletin officiel."),
])

FR_TARIFS = Document("fr_tarifs_fusion", "office", "fr", "Tarifs", [
    Heading("Décret n° 2-25-318 du 3 juin 2025 fixant les tarifs des prestations rendues par "
            "l'Agence nationale de la conservation foncière"),
    Paragraph("Article premier. Les tarifs des prestations rendues par l'Agence nationale de la "
              "conservation foncière, du cadastre et de la cartographie sont fixés comme suit :"),
    Table("tarifs", [
        [Cell("Catégorie", rowspan=2, heading=True), Cell("Prestation", rowspan=2, heading=True),
         Cell("Tarif (en dirhams)", colspan=2, heading=True)],
        head("Particuliers", "Sociétés"),
        [Cell("Immatriculation", rowspan=3), *row("Réquisition d'immatriculation", "500",
                                                  n("1 500"), amounts=2)],
        row("Bornage complémentaire", "750", n("2 000"), amounts=2),
        row("Établissement du titre foncier", "300", "900", amounts=2),
        [Cell("Inscription", rowspan=2), *row("Inscription d'un droit réel", n("1 000"),
                                              n("3 000"), amounts=2)],
        row("Radiation d'une hypothèque", "250", "750", amounts=2),
        [Cell("Consultation", rowspan=2), *row("Certificat de propriété", "100", "120",
                                               amounts=2)],
        row("Copie de plan cadastral", "150", "200", amounts=2),
        [Cell("Exonérations : voir l'article 3 du présent décret", colspan=4)],
    ], header_rows=2),
    Paragraph("Article 2. Le présent décret entre en vigueur à compter de la date de sa "
              "publication au Bulletin officiel."),
])

FR_BUDGET = Document("fr_budget_filets", "office", "fr", "Budget", [
    Heading("Loi de finances n° 55-24 pour l'année budgétaire 2025", 1),
    Heading("Tableau A : répartition des crédits du budget général par ministère"),
    Paragraph("Les crédits ouverts au titre du budget général pour l'année budgétaire 2025 sont "
              "répartis, par ministère, conformément au tableau ci-dessous (en dirhams)."),
    Table("credits", [
        head("Chapitre", "Ministère", "Fonctionnement", "Investissement", "Total"),
        row("1.1.0.0.1.13", "Santé et Protection sociale", n("22 450 000"), n("5 120 000"),
            n("27 570 000"), amounts=3),
        row("1.1.0.0.1.14", "Éducation nationale", n("68 310 500"), n("7 842 000"),
            n("76 152 500"), amounts=3),
        row("1.1.0.0.1.17", "Agriculture et Pêche maritime", n("4 125 300"), n("12 600 000"),
            n("16 725 300"), amounts=3),
        row("1.1.0.0.1.20", "Équipement et Eau", n("2 980 700"), n("14 215 000"),
            n("17 195 700"), amounts=3),
        row("1.1.0.0.1.22", "Justice", n("5 640 200"), n("1 150 000"), n("6 790 200"),
            amounts=3),
        row("1.1.0.0.1.25", "Habous et Affaires islamiques", n("3 870 900"), n("980 000"),
            n("4 850 900"), amounts=3),
        row("1.1.0.0.1.31", "Culture et Communication", n("1 205 400"), n("865 500"),
            n("2 070 900"), amounts=3),
        row("", "Total général", n("108 583 000"), n("42 772 500"), n("151 355 500"),
            amounts=3),
    ], style="rules"),
    Paragraph("Les montants sont exprimés hors dépenses de personnel imputées sur les charges "
              "communes."),
])

FR_LISTE = Document("fr_liste_sans_filets", "office", "fr", "Liste", [
    Heading("Liste des candidats admis au concours de recrutement de techniciens de 3e grade"),
    Paragraph("Session du 23 mars 2025. Les candidats sont classés par ordre de mérite."),
    Table("admis", [
        head("Rang", "Nom", "Prénom", "CIN", "Ville"),
        row("1", "Alaoui", "Mohammed", "A123456", "Rabat"),
        row("2", "Bennani", "Fatima Zahra", "BE784512", "Fès"),
        row("3", "El Idrissi", "Youssef", "C458796", "Meknès"),
        row("4", "Tazi", "Khadija", "D965874", "Tanger"),
        row("5", "Berrada", "Omar", "BK102938", "Casablanca"),
        row("6", "Chraibi", "Salma", "E564738", "Marrakech"),
        row("7", "Benjelloun", "Karim", "F918273", "Oujda"),
        row("8", "Lahlou", "Nadia", "G372819", "Agadir"),
        row("9", "Skalli", "Hamza", "H746352", "Tétouan"),
        row("10", "Ouazzani", "Imane", "JA283746", "Kénitra"),
        row("11", "Kettani", "Asmae", "L192837", "El Jadida"),
        row("12", "Sebti", "Rachid", "M564729", "Safi"),
    ], style="plain", width_pct=80),
    Paragraph("Arrêtée la présente liste à douze (12) candidats."),
])

FR_MARCHES = Document("fr_marches_multilignes", "office", "fr", "Marchés", [
    Heading("Avis d'attribution des marchés publics de la Direction provinciale de l'Équipement"),
    Paragraph("En application de l'article 152 du décret relatif aux marchés publics, la "
              "Direction provinciale publie la liste des marchés attribués au premier trimestre "
              "2025 :"),
    Table("marches", [
        head("N° du marché", "Objet du marché", "Attributaire", "Montant (DH TTC)"),
        row("01/2025", "Travaux de construction d'une école communautaire dans la commune de "
            "Sidi Bouothmane, province de Rehamna", "Société Atlas Travaux\nMarrakech",
            n("4 250 000,00"), amounts=1),
        row("02/2025", "Aménagement de la route provinciale 2105 sur une longueur de 12 km",
            "Entreprise Routière du Sud\nAgadir", n("18 730 450,80"), amounts=1),
        row("03/2025", "Fourniture et pose de panneaux de signalisation verticale",
            "Signalisation Maroc SARL\nCasablanca", n("612 900,00"), amounts=1),
        row("04/2025", "Entretien des ouvrages d'art sur le réseau routier provincial",
            "Génie Civil Tensift\nSafi", n("2 145 600,00"), amounts=1),
        row("05/2025", "Étude géotechnique pour la construction du pont de l'oued Tensift",
            "Laboratoire Public d'Essais et d'Études\nCasablanca", n("389 520,00"), amounts=1),
    ], widths=[13, 45, 26, 16]),
    Paragraph("Les dossiers des marchés peuvent être consultés au siège de la Direction "
              "provinciale pendant les heures de travail."),
])

_ANNONCES = (
    "Aux termes d'un acte sous seing privé établi à Casablanca le 2 avril 2025, il a été "
    "constitué une société à responsabilité limitée présentant les caractéristiques "
    "suivantes : dénomination Atlas Conseil SARL ; objet : le conseil en gestion des "
    "entreprises, la formation continue et l'assistance technique ; siège social : 45, "
    "boulevard Zerktouni, Casablanca ; capital social : cent mille dirhams.",
    "Le dépôt légal a été effectué au greffe du tribunal de commerce de Casablanca le 18 "
    "avril 2025 sous le numéro 874512. La société est gérée pour une durée illimitée par "
    "Monsieur Karim Bennis, de nationalité marocaine, titulaire de la carte nationale "
    "d'identité numéro BE451236.",
    "Par décision de l'assemblée générale extraordinaire du 10 mars 2025, les associés de "
    "la société Sud Logistique SARL ont décidé le transfert du siège social de Agadir à "
    "Marrakech, zone industrielle de Sidi Ghanem, lot 112, et la modification corrélative "
    "de l'article 4 des statuts.",
    "Aux termes d'un acte notarié reçu le 27 février 2025, la société Rif Agro SA a porté "
    "son capital social de deux millions à cinq millions de dirhams par incorporation de "
    "réserves, et a procédé à la refonte de ses statuts. Le dépôt a été effectué au greffe "
    "du tribunal de commerce de Tanger.",
    "Suivant procès-verbal du conseil d'administration du 5 mai 2025, la société Maghreb "
    "Emballages SA a nommé Madame Salma Chraibi en qualité de directrice générale "
    "déléguée, en remplacement de Monsieur Omar Berrada, démissionnaire.",
)

# LibreOffice balances a two-column section: the table, in the middle of the text, is cut
# between the columns.
FR_COLONNES = Document("fr_deux_colonnes", "office", "fr", "Deux colonnes", [
    Heading("Bulletin des annonces légales, judiciaires et administratives", 1),
    "columns",
    Heading("Constitution de sociétés"),
    Paragraph(_ANNONCES[0]),
    Paragraph(_ANNONCES[1]),
    Heading("Sociétés radiées du registre du commerce"),
    Table("radiations", [
        head("N° RC", "Dénomination", "Ville"),
        row("RC 10452", "Atlas Négoce SARL", "Rabat"),
        row("RC 20871", "Oasis Voyages SARL", "Ouarzazate"),
        row("RC 31209", "Fès Textiles SA", "Fès"),
        row("RC 42716", "Souss Primeurs SARL", "Agadir"),
        row("RC 53820", "Nador Pêche SARL", "Nador"),
        row("RC 64113", "Ifrane Bois SARL", "Ifrane"),
        row("RC 75398", "Tadla Lait SA", "Béni Mellal"),
        row("RC 86021", "Dakhla Sel SARL", "Dakhla"),
        row("RC 97534", "Meknès Vins SA", "Meknès"),
        row("RC 18650", "Safi Céramique SARL", "Safi"),
        row("RC 29467", "Larache Conserves SA", "Larache"),
        row("RC 30982", "Taza Matériaux SARL", "Taza"),
        row("RC 41576", "Essaouira Argan SARL", "Essaouira"),
        row("RC 52394", "Tiznit Bijoux SARL", "Tiznit"),
    ]),
    Paragraph("La radiation prend effet à la date de son inscription au registre central du "
              "commerce."),
    Heading("Modifications statutaires"),
    *[Paragraph(t) for t in _ANNONCES[2:]],
    "end columns",
])

# --- Arabic, LibreOffice ------------------------------------------------------------------

AR_TAINAT = Document("ar_taayinat_grille", "office", "ar", "تعيينات", [
    Heading("وزارة الداخلية", 1, rtl=True),
    Heading(A("قرار لوزير الداخلية رقم 2345.25 صادر في 14 من ماي 2025 بتعيين رؤساء أقسام"),
            rtl=True),
    Paragraph("بموجب قرار لوزير الداخلية، يعين الموظفون الآتية أسماؤهم رؤساء أقسام ابتداء من "
              "التواريخ المبينة بعده:", rtl=True),
    Table("taayinat", [
        head("الرقم", "الاسم الكامل", "الإطار", "التعيين", "تاريخ السريان"),
        row(A("1"), "العلمي سعيد", "متصرف من الدرجة الثانية", "عمالة الرباط", A("01/02/2025")),
        row(A("2"), "بنيس هدى", "مهندس رئيس", "ولاية جهة فاس مكناس", A("15/02/2025")),
        row(A("3"), "الشرقاوي أنس", "متصرف من الدرجة الأولى", "إقليم القنيطرة", A("01/03/2025")),
        row(A("4"), "الذهبي لبنى", "مهندس دولة", "عمالة سلا", A("10/03/2025")),
        row(A("5"), "الفاسي كريم", "متصرف من الدرجة الثالثة", "إقليم الجديدة", A("01/04/2025")),
        row(A("6"), "الفيلالي مريم", "مفتش إداري", "المفتشية العامة للإدارة الترابية",
            A("15/04/2025")),
        row(A("7"), "الغزالي رشيد", "متصرف من الدرجة الثانية", "إقليم تازة", A("02/05/2025")),
    ], rtl=True),
    Paragraph("ينشر هذا القرار بالجريدة الرسمية.", rtl=True),
])

AR_TAARIFAT = Document("ar_taarifat_idmaj", "office", "ar", "أجور", [
    Heading("مرسوم رقم 2.25.410 صادر في 20 من يونيو 2025 بتحديد أجور الخدمات المقدمة من طرف "
            "المكتب الوطني للسلامة الصحية للمنتجات الغذائية", rtl=True),
    Paragraph("المادة الأولى: تحدد أجور الخدمات المقدمة من طرف المكتب الوطني للسلامة الصحية "
              "للمنتجات الغذائية وفق الجدول التالي:", rtl=True),
    Table("ujur", [
        [Cell("الصنف", rowspan=2, heading=True), Cell("الخدمة", rowspan=2, heading=True),
         Cell("الأجرة بالدرهم", colspan=2, heading=True)],
        head("للأشخاص الذاتيين", "للشركات"),
        [Cell("المراقبة", rowspan=3), *row("فحص المنتجات النباتية", "200", "600")],
        row("فحص المنتجات الحيوانية", "350", n("1 050")),
        row("مراقبة وحدات التبريد", "500", n("1 500")),
        [Cell("الشواهد", rowspan=2), *row("شهادة صحية للتصدير", "150", "450")],
        row("شهادة المطابقة", "120", "360"),
        [Cell("التحاليل", rowspan=2), *row("تحليل مخبري كامل", "800", n("2 400"))],
        row("تحليل بقايا المبيدات", n("1 200"), n("3 600")),
        [Cell("تطبق هذه الأجور ابتداء من فاتح يوليوز 2025", colspan=4)],
    ], rtl=True, header_rows=2),
    Paragraph("المادة الثانية: يسند تنفيذ هذا المرسوم إلى وزير الفلاحة والصيد البحري، وينشر "
              "بالجريدة الرسمية.", rtl=True),
])

AR_MIZANIYA = Document("ar_mizaniya_khutut", "office", "ar", "الميزانية", [
    Heading(A("قانون المالية رقم 55.24 للسنة المالية 2025"), 1, rtl=True),
    Heading("الجدول ب: توزيع اعتمادات الميزانية العامة حسب القطاعات الوزارية", rtl=True),
    Paragraph("توزع الاعتمادات المفتوحة برسم الميزانية العامة حسب القطاعات الوزارية وفق الجدول "
              "أسفله (بالدرهم).", rtl=True),
    Table("itimadat", [
        head("الفصل", "القطاع الوزاري", "التسيير", "الاستثمار", "المجموع"),
        row(A("1.1.0.1"), "التربية الوطنية", A("62,450,000"), A("8,120,000"), A("70,570,000")),
        row(A("1.1.0.2"), "الصحة والحماية الاجتماعية", A("21,340,500"), A("5,210,000"),
            A("26,550,500")),
        row(A("1.1.0.3"), "الفلاحة والصيد البحري", A("4,015,300"), A("11,700,000"),
            A("15,715,300")),
        row(A("1.1.0.4"), "التجهيز والماء", A("2,870,700"), A("13,905,000"), A("16,775,700")),
        row(A("1.1.0.5"), "العدل", A("5,420,200"), A("1,090,000"), A("6,510,200")),
        row(A("1.1.0.6"), "الأوقاف والشؤون الإسلامية", A("3,760,900"), A("940,000"),
            A("4,700,900")),
        row("", "المجموع العام", A("99,857,600"), A("40,965,000"), A("140,822,600")),
    ], style="rules", rtl=True),
    Paragraph("لا تشمل هذه المبالغ نفقات الموظفين المدرجة في التكاليف المشتركة.", rtl=True),
])

AR_LAIHA = Document("ar_laiha_bidun_khutut", "office", "ar", "لائحة", [
    Heading("لائحة المترشحين الناجحين في مباراة توظيف تقنيين من الدرجة الثالثة", rtl=True),
    Paragraph("رتب المترشحون حسب الاستحقاق، دورة 23 مارس 2025", rtl=True),
    Table("najihun", [
        head("الترتيب", "الاسم العائلي", "الاسم الشخصي", "رقم البطاقة الوطنية", "المدينة"),
        row("1", "العلوي", "محمد", "A123456", "الرباط"),
        row("2", "بناني", "فاطمة الزهراء", "BE784512", "فاس"),
        row("3", "الإدريسي", "يوسف", "C458796", "مكناس"),
        row("4", "التازي", "خديجة", "D965874", "طنجة"),
        row("5", "برادة", "عمر", "BK102938", "الدار البيضاء"),
        row("6", "الشرايبي", "سلمى", "E564738", "مراكش"),
        row("7", "بنجلون", "كريم", "F918273", "وجدة"),
        row("8", "لحلو", "نادية", "G372819", "أكادير"),
        row("9", "السقلي", "حمزة", "H746352", "تطوان"),
        row("10", "الوزاني", "إيمان", "JA283746", "القنيطرة"),
        row("11", "الكتاني", "أسماء", "L192837", "الجديدة"),
    ], style="plain", rtl=True, width_pct=85),
    Paragraph("حصرت هذه اللائحة في أحد عشر مترشحا", rtl=True),
])

AR_SAFAQAT = Document("ar_safaqat_mutaaddida", "office", "ar", "صفقات", [
    Heading("إعلان عن نتائج الصفقات العمومية للمديرية الإقليمية للتجهيز", rtl=True),
    Paragraph(A("تطبيقا لمقتضيات المادة 152 من المرسوم المتعلق بالصفقات العمومية، تنشر المديرية "
                "الإقليمية لائحة الصفقات المبرمة خلال الفصل الأول من سنة 2025:"), rtl=True),
    Table("safaqat", [
        head("رقم الصفقة", "موضوع الصفقة", "نائل الصفقة", "المبلغ بالدرهم"),
        row(A("01/2025"), "أشغال بناء مدرسة جماعاتية بالجماعة الترابية سيدي بوعثمان إقليم الرحامنة",
            "شركة الأطلس للأشغال\nمراكش", A("4,250,000.00")),
        row(A("02/2025"), A("تهيئة الطريق الإقليمية رقم 2105 على طول 12 كيلومترا"),
            "مقاولة طرق الجنوب\nأكادير", A("18,730,450.80")),
        row(A("03/2025"), "توريد وتركيب علامات التشوير العمودي",
            "تشوير المغرب ش.م.م\nالدار البيضاء", A("612,900.00")),
        row(A("04/2025"), "صيانة المنشآت الفنية بالشبكة الطرقية الإقليمية",
            "الهندسة المدنية تانسيفت\nآسفي", A("2,145,600.00")),
        row(A("05/2025"), "دراسة جيوتقنية لبناء قنطرة وادي تانسيفت",
            "المختبر العمومي للتجارب والدراسات\nالدار البيضاء", A("389,520.00")),
    ], rtl=True, widths=[14, 40, 28, 18]),
    Paragraph("يمكن الاطلاع على ملفات الصفقات بمقر المديرية الإقليمية خلال أوقات العمل.",
              rtl=True),
])

MIXED = Document("mixte_fr_ar", "office", "fr", "Avis bilingue", [
    Heading("Avis relatif aux droits d'inscription aux établissements de formation"),
    Paragraph("Les droits d'inscription aux établissements de formation professionnelle sont "
              "fixés, pour l'année 2025-2026, comme suit :"),
    Table("droits_fr", [
        head("Niveau", "Inscription", "Assurance", "Total"),
        row("Qualification", "150", "30", "180", amounts=3),
        row("Technicien", "250", "40", "290", amounts=3),
        row("Technicien spécialisé", "350", "45", "395", amounts=3),
    ], width_pct=70),
    Heading("إعلان يتعلق برسوم التسجيل بمؤسسات التكوين", rtl=True),
    Paragraph(A("تحدد رسوم التسجيل بمؤسسات التكوين المهني برسم سنة 2025 كما يلي:"),
              rtl=True),
    Table("rusum_ar", [
        head("المستوى", "التسجيل", "التأمين", "المجموع"),
        row("التأهيل", A("150"), A("30"), A("180")),
        row("التقني", A("250"), A("40"), A("290")),
        row("التقني المتخصص", A("350"), A("45"), A("395")),
    ], rtl=True, width_pct=70),
    PageBreak(),
    Heading("Calendrier des examens - جدول الامتحانات"),
    Paragraph("Les examens de fin de formation se dérouleront selon le calendrier suivant. "
              "Tout candidat absent à une épreuve est considéré comme ayant abandonné."),
    Table("calendrier", [
        head("Épreuve", "الاختبار", "Date", "Durée"),
        row("Épreuve théorique", "الاختبار النظري", "16/06/2025", "3 h"),
        row("Épreuve pratique", "الاختبار التطبيقي", "18/06/2025", "5 h"),
        row("Projet de fin d'études", "مشروع نهاية الدراسة", "23/06/2025", "1 h 30"),
        row("Délibérations", "المداولات", "30/06/2025", "-"),
    ]),
    Paragraph("Les résultats seront affichés dans chaque établissement le 4 juillet 2025."),
])

# --- French, LaTeX ------------------------------------------------------------------------

TEX_EFFECTIFS = Document("tex_effectifs_fusion", "latex", "fr", "Effectifs", [
    Heading("Arrêté conjoint n° 987-25 fixant la répartition des postes budgétaires par région",
            1),
    Paragraph("Article premier. Les postes budgétaires ouverts au titre de l'année 2025 au "
              "profit des académies régionales d'éducation et de formation sont répartis "
              "conformément au tableau suivant :"),
    Table("postes", [
        [Cell("Région", rowspan=2, heading=True), Cell("Académie", rowspan=2, heading=True),
         Cell("Enseignement", colspan=3, heading=True)],
        head("Primaire", "Collégial", "Qualifiant"),
        [Cell("Nord", rowspan=2), *row("Tanger-Tétouan-Al Hoceima", "1 240", "860", "610")],
        row("Oriental", "980", "705", "455"),
        [Cell("Centre", rowspan=3), *row("Rabat-Salé-Kénitra", "1 615", "1 130", "842")],
        row("Casablanca-Settat", "2 310", "1 574", "1 208"),
        row("Béni Mellal-Khénifra", "745", "512", "367"),
        [Cell("Sud", rowspan=2), *row("Marrakech-Safi", "1 420", "993", "688")],
        row("Souss-Massa", "1 076", "748", "519"),
        [Cell("Total"), Cell("sept académies"), Cell("9 386"), Cell("6 522"), Cell("4 689")],
    ], header_rows=2, tex_columns="|l|l|r|r|r|"),
    Paragraph("Article 2. Le présent arrêté sera publié au Bulletin officiel."),
])

TEX_DOUANE = Document("tex_droits_booktabs", "latex", "fr", "Droits de douane", [
    Heading("Tarif des droits d'importation applicables à certains produits agricoles", 1),
    Paragraph("En application de la loi de finances pour l'année 2025, les droits d'importation "
              "applicables aux produits désignés ci-après sont fixés comme suit :"),
    Table("droits", [
        [Cell("Code SH", rowspan=2, heading=True), Cell("Désignation", rowspan=2, heading=True),
         Cell("Droit d'importation (%)", colspan=2, heading=True)],
        head("Normal", "Préférentiel"),
        row("0701.90", "Pommes de terre", "40", "17,5"),
        row("0702.00", "Tomates fraîches ou réfrigérées", "49", "2,5"),
        row("0703.10", "Oignons et échalotes", "40", "10"),
        row("0805.10", "Oranges", "104", "0"),
        row("1001.99", "Blé tendre", "135", "30"),
        row("1003.90", "Orge", "2,5", "0,5"),
        row("1701.99", "Sucre blanc", "35", "12"),
        row("0409.00", "Miel naturel", "50", "25"),
    ], style="rules", header_rows=2, tex_columns="llrr"),
    Paragraph("Les droits préférentiels s'appliquent aux produits originaires des pays liés au "
              "Royaume par un accord de libre-échange."),
])

TEX_LISTE = Document("tex_liste_sans_filets", "latex", "fr", "Liste", [
    Heading("Liste des bénéficiaires de l'agrément de guide de tourisme", 1),
    Paragraph("Par décision du ministre du tourisme du 2 juin 2025, l'agrément de guide de "
              "tourisme est accordé aux personnes dont les noms suivent :"),
    Table("guides", [
        head("N°", "Nom et prénom", "Spécialité", "Langues", "Ville"),
        row("1", "Amrani Leila", "Guide de ville", "Anglais, Espagnol", "Fès"),
        row("2", "Bouzidi Hicham", "Guide de montagne", "Français, Allemand", "Azilal"),
        row("3", "Chafik Nora", "Guide de ville", "Anglais, Italien", "Marrakech"),
        row("4", "Derkaoui Younes", "Guide de désert", "Français, Anglais", "Errachidia"),
        row("5", "Ennaji Sara", "Guide de ville", "Chinois, Anglais", "Rabat"),
        row("6", "Fikri Mehdi", "Guide de montagne", "Anglais, Néerlandais", "Imlil"),
        row("7", "Guennoun Aicha", "Guide de ville", "Espagnol, Portugais", "Tétouan"),
        row("8", "Hamdaoui Reda", "Guide de désert", "Italien, Français", "Zagora"),
        row("9", "Idrissi Kenza", "Guide de ville", "Japonais, Anglais", "Casablanca"),
        row("10", "Jaafari Tarik", "Guide de montagne", "Allemand, Russe", "Ouarzazate"),
    ], style="plain", tex_columns="rllll"),
    Paragraph("Les intéressés sont tenus de porter leur carte professionnelle pendant "
              "l'exercice de leur activité."),
])

TEX_MULTI = Document("tex_multilignes", "latex", "fr", "Conventions", [
    Heading("Conventions de partenariat approuvées par le conseil régional", 1),
    Paragraph("Le conseil régional, réuni en session ordinaire le 7 mars 2025, a approuvé les "
              "conventions de partenariat dont la liste suit :"),
    Table("conventions", [
        head("N°", "Objet de la convention", "Partenaires", "Contribution"),
        row("C-01", "Financement du programme de mise à niveau des centres de santé ruraux de "
            "la région", "Ministère de la Santé\nAgence de développement", "35 millions DH"),
        row("C-02", "Construction de trois centres de formation professionnelle dans les "
            "provinces de Taza et Guercif", "Office de la formation professionnelle",
            "62 millions DH"),
        row("C-03", "Alimentation en eau potable des douars de la commune de Tahla",
            "Office national de l'électricité et de l'eau potable\nProvince de Taza",
            "18 millions DH"),
        row("C-04", "Réalisation d'une étude de la stratégie régionale du tourisme rural",
            "Conseil régional du tourisme", "2,4 millions DH"),
    ], tex_columns=r"|l|>{\raggedright\arraybackslash}p{6.2cm}|"
                   r">{\raggedright\arraybackslash}p{5cm}|l|"),
    Paragraph("Les conventions approuvées entrent en vigueur dès leur signature par les "
              "parties."),
    PageBreak(),
    Heading("Annexe : calendrier de réalisation"),
    Paragraph("Le calendrier prévisionnel de réalisation des projets est le suivant."),
    Table("calendrier", [
        head("Convention", "Démarrage", "Achèvement prévu", "Observations"),
        row("C-01", "septembre 2025", "juin 2027", "Réalisation en deux tranches\nannuelles"),
        row("C-02", "janvier 2026", "décembre 2027",
            "Sous réserve de la mobilisation\ndu foncier"),
        row("C-03", "octobre 2025", "mars 2026", "Travaux confiés à l'Office"),
        row("C-04", "juillet 2025", "février 2026", "Étude confiée à un bureau d'études"),
    ], tex_columns=r"|l|l|l|>{\raggedright\arraybackslash}p{5.5cm}|"),
])

_FILLER = (
    "Le comité de pilotage a examiné l'état d'avancement des projets inscrits au programme de "
    "développement régional et a relevé que la plupart des chantiers ouverts en 2024 ont "
    "atteint un taux de réalisation satisfaisant, malgré les retards enregistrés dans la "
    "libération des emprises foncières.",
    "Il a recommandé de renforcer la coordination entre les services déconcentrés de l'État, "
    "les collectivités territoriales et les établissements publics, et de publier chaque "
    "trimestre un tableau de bord des engagements et des paiements.",
    "Le comité a également pris acte de la programmation des projets de l'année 2025, dont "
    "la répartition par province figure au tableau ci-après, et a invité les maîtres "
    "d'ouvrage délégués à lancer les appels d'offres avant la fin du premier semestre.",
    "Les crédits non engagés à la clôture de l'exercice feront l'objet d'un report, dans les "
    "conditions prévues par la réglementation en vigueur, après avis du comité.",
    "Le directeur du centre régional d'investissement a rappelé que les projets d'initiative "
    "privée approuvés par la commission régionale unifiée d'investissement représentent un "
    "montant de trois milliards de dirhams et permettront la création de quatre mille "
    "emplois directs.",
    "Le représentant de l'agence du bassin hydraulique a présenté la situation des barrages "
    "de la région et les mesures prises pour assurer l'approvisionnement en eau potable des "
    "centres urbains et ruraux pendant la période estivale.",
    "Le comité a salué l'effort des communes qui ont achevé l'assainissement de leurs quartiers "
    "sous-équipés et a demandé que cette expérience soit étendue aux autres communes.",
    "Les représentants des provinces ont présenté les difficultés rencontrées dans la "
    "mobilisation des contributions des partenaires, notamment pour les projets "
    "d'électrification rurale et d'adduction d'eau potable.",
    "Le comité a décidé de constituer une commission technique chargée d'arrêter, avant le 30 "
    "septembre 2025, la liste des projets prioritaires et le calendrier de leur réalisation.",
)

TEX_COLONNES = Document("tex_deux_colonnes", "latex", "fr", "Deux colonnes", [
    Heading("Compte rendu du comité régional de pilotage", 1),
    *[Paragraph(t, test=i % 2 == 0) for i, t in enumerate(_FILLER)],
    "vfill",
    Paragraph("Programmation des projets par province (en millions de dirhams) :"),
    Table("programmation", [
        head("Province", "Projets", "Montant"),
        row("Al Haouz", "12", "145,2"),
        row("Chichaoua", "8", "96,7"),
        row("El Kelaa", "10", "121,4"),
        row("Essaouira", "9", "88,3"),
        row("Marrakech", "21", "402,9"),
        row("Rehamna", "7", "74,5"),
        row("Safi", "14", "188,6"),
        row("Youssoufia", "6", "59,8"),
        row("Total", "87", "1 177,4"),
    ], tex_columns=r"|p{2.2cm}|>{\raggedleft\arraybackslash}p{1.4cm}"
                   r"|>{\raggedleft\arraybackslash}p{1.6cm}|", split_after=5),
    Paragraph("Le procès-verbal de la réunion sera transmis aux membres du comité dans un délai "
              "de quinze jours."),
], columns=2)

DOCUMENTS: list[Document] = [
    FR_NOMINATIONS, FR_TARIFS, FR_BUDGET, FR_LISTE, FR_MARCHES, FR_COLONNES,
    AR_TAINAT, AR_TAARIFAT, AR_MIZANIYA, AR_LAIHA, AR_SAFAQAT, MIXED,
    TEX_EFFECTIFS, TEX_DOUANE, TEX_LISTE, TEX_MULTI, TEX_COLONNES,
]
