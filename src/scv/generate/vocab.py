"""Embedded vocabularies: names, places, streets, e-mail domains, placeholders and junk values.

Everything the generator draws from lives here, as plain tuples, so that the output depends only
on this file and the seed. Lists are ordered by rough real-world popularity; the sampler turns
rank into a Zipf-like weight (:func:`zipf_weights`), which gives the heavy skew that makes
common-name collisions ("John Smith in London") happen at scale.

Nothing here is random and nothing is read from disk except the ``nicknames`` package's list,
which is loaded once and filtered to nicknames people really use.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from unidecode import unidecode

# --------------------------------------------------------------------------------------------
# Countries
# --------------------------------------------------------------------------------------------

COUNTRIES: tuple[str, ...] = ("GB", "US", "DE", "FR", "IE")
COUNTRY_WEIGHTS: tuple[float, ...] = (0.70, 0.10, 0.08, 0.06, 0.06)
CALLING_CODES: dict[str, str] = {"GB": "44", "US": "1", "DE": "49", "FR": "33", "IE": "353"}

# How each source spells a country. The first entry is the most common spelling.
COUNTRY_SPELLINGS_CRM: dict[str, tuple[str, ...]] = {
    "GB": ("United Kingdom", "United Kingdom", "UK", "GB", "England", "Great Britain"),
    "US": ("United States", "USA", "US", "United States of America"),
    "DE": ("Germany", "Germany", "Deutschland", "DE"),
    "FR": ("France", "France", "FR"),
    "IE": ("Ireland", "Ireland", "Republic of Ireland", "IE", "Éire"),
}
COUNTRY_SPELLINGS_LOYALTY: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "UK", "United Kingdom", "GB"),
    "US": ("USA", "US"),
    "DE": ("Germany", "DEU"),
    "FR": ("France", "FRA"),
    "IE": ("Ireland", "IRL", "ROI"),
}

# --------------------------------------------------------------------------------------------
# First names by origin and sex, most popular first
# --------------------------------------------------------------------------------------------

_FIRST: dict[tuple[str, str], str] = {
    ("en", "m"): """
        David John Michael James Paul Andrew Peter Robert Mark Richard Stephen Christopher
        William Thomas Daniel Matthew Ian Steven Anthony Jonathan Simon Martin Gary Alan Kevin
        Brian Graham Philip Neil Stuart Colin Keith George Jack Harry Oliver Charlie Samuel
        Joseph Benjamin Alexander Edward Henry Lee Nicholas Adam Jason Craig Scott Darren Wayne
        Dean Lewis Ryan Luke Jamie Callum Connor Liam Ethan Jacob Noah Oscar Leo Alfie Freddie
        Archie Theo Arthur Charles Frederick Albert Ronald Kenneth Raymond Dennis Derek Roy
        Leslie Terence Gordon Douglas Barry Trevor Nigel Malcolm Geoffrey Roger Russell Gareth
        Rhys Owen Dylan Kieran Reece Joshua Nathan Aaron Tyler Max Isaac Elliot Toby Joel Harvey
        Patrick Frank Victor Vincent Walter Harold Lawrence Stanley Bernard Clive Howard Eric
        Norman Gerald Timothy Jeffrey Larry Justin Brandon Tony Phil Ross Dominic Sebastian
        Rupert Hugo Felix Jasper Marcus Jordan Bradley Shane Carl Glenn Jeremy
    """,
    ("en", "f"): """
        Susan Sarah Margaret Elizabeth Helen Karen Julie Claire Emma Nicola Jennifer Patricia
        Linda Mary Catherine Rebecca Laura Rachel Lisa Joanne Michelle Angela Alison Deborah
        Jacqueline Christine Janet Gillian Amanda Louise Victoria Samantha Katherine Kelly
        Charlotte Sophie Olivia Amelia Emily Jessica Hannah Lucy Grace Chloe Ella Isla Mia Ava
        Lily Poppy Freya Evie Ruby Daisy Florence Matilda Rosie Alice Eleanor Holly Megan
        Lauren Bethany Georgia Abigail Amber Jade Gemma Natalie Kirsty Leanne Danielle Kerry
        Hayley Stacey Zoë Zoe Anne Ann Jean Joan Sheila Pauline Maureen Valerie Brenda Barbara
        Dorothy Betty Shirley Sandra Carol Wendy Diane Denise Lorraine Tracey Dawn Sharon
        Heather Judith Frances Theresa Diana Julia Caroline Harriet Imogen Jasmine Phoebe
        Beatrice Edith Iris Violet Ivy Rose Elsie Mabel Nancy Kimberly Ashley Stephanie
        Melissa Amy Nicole Anna Ruth Janice Gloria Joyce Rita Marilyn Kathleen Peggy Molly
        Maisie Erin Naomi Leah Kayleigh Courtney Paige Abbie
    """,
    ("ie", "m"): """
        Seán Conor Patrick Liam Ciarán Declan Darragh Cian Oisín Eoin Niall Cathal Donal
        Fionn Pádraig Colm Diarmuid Ronan Brendan Kieran Eamon Fergal Tadhg Rory Shane
        Cillian Aodhán Ruairí
    """,
    ("ie", "f"): """
        Aoife Niamh Siobhán Ciara Sinéad Orla Saoirse Róisín Caoimhe Aisling Clodagh Éabha
        Gráinne Méabh Deirdre Fiadh Aine Caitlín Úna Nóirín Bríd Órlaith Eimear Sorcha Muireann
    """,
    ("de", "m"): """
        Thomas Michael Andreas Stefan Peter Klaus Jürgen Wolfgang Frank Markus Christian
        Matthias Uwe Hans Dieter Jörg Bernd Ralf Sven Tobias Florian Lukas Jonas Felix Maximilian
        Leon Paul Finn Niklas Moritz Sebastian Tim Jan Dirk Günter Manfred Helmut Horst Karl
        Heinz Rüdiger Björn Jens Torsten Kai Lars
    """,
    ("de", "f"): """
        Sabine Petra Andrea Claudia Susanne Monika Birgit Stefanie Julia Anna Katrin Nicole
        Karin Ursula Renate Gabriele Heike Ute Anja Sandra Christina Lena Laura Lea Hannah Mia
        Emilia Sophie Marie Johanna Greta Lina Jana Jutta Ingrid Brigitte Gisela Helga Bärbel
        Erika Annegret Käthe Henrike Franziska Mareike Silke Doris
    """,
    ("fr", "m"): """
        Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Laurent Frédéric Éric
        Stéphane Olivier Thierry Julien Sébastien Jérôme François Pascal David Thomas Antoine
        Lucas Hugo Louis Gabriel Raphaël Arthur Mathis Théo Maxime Guillaume Benoît Cédric
        Jean-Pierre Jean-Luc Jean-Marc Jacques Gérard René André Loïc Noël Hervé
    """,
    ("fr", "f"): """
        Marie Nathalie Isabelle Sylvie Catherine Christine Sandrine Valérie Sophie Céline
        Véronique Stéphanie Émilie Julie Camille Léa Manon Chloé Inès Jade Louise Alice Léna
        Clémence Hélène Françoise Monique Brigitte Chantal Élodie Aurélie Mélanie Anaïs
        Marie-Claire Anne-Sophie Geneviève Danièle Josiane Noémie Maëlle Océane Agnès Renée
    """,
    ("es", "m"): """
        José Juan Carlos Luis Javier Antonio Manuel Francisco Miguel Alejandro Diego Pablo
        Andrés Jesús Sergio Rubén Álvaro Raúl Iván Adrián Joaquín Martín Ángel Óscar
    """,
    ("es", "f"): """
        María Carmen Ana Laura Lucía Isabel Sofía Marta Elena Cristina Paula Raquel Pilar
        Rocío Inés Beatriz Mónica Verónica Alicia Begoña Nuria Irene Ángela Marisol
    """,
    ("pt", "m"): "João Pedro Tiago Rui Nuno Gonçalo Duarte Vítor André Sérgio Luís Fábio",
    ("pt", "f"): "Ana Inês Beatriz Leonor Mariana Joana Catarina Conceição Fátima Sónia Raquel",
    ("pl", "m"): """
        Łukasz Piotr Krzysztof Tomasz Paweł Michał Marcin Jakub Kamil Wojciech Grzegorz
        Mateusz Bartosz Dawid Przemysław Jarosław Rafał Sławomir Zbigniew Andrzej
    """,
    ("pl", "f"): """
        Anna Katarzyna Małgorzata Agnieszka Magdalena Joanna Aleksandra Monika Ewa Zofia
        Natalia Karolina Dorota Paulina Marta Justyna Jolanta Bożena Grażyna Urszula
    """,
    ("nordic", "m"): """Søren Lars Anders Mikkel Rasmus Bjørn Jörgen Magnus Erik Nils Sven Øyvind
        Henrik""",
    ("nordic", "f"): "Ingrid Astrid Sigrid Åsa Karin Freja Maja Linnéa Kirsten Solveig Mette Signe",
    ("it", "m"): """Giuseppe Marco Luca Giovanni Francesco Alessandro Andrea Matteo Lorenzo
        Davide Nicolò""",
    ("it", "f"): "Giulia Francesca Chiara Sara Martina Alessia Valentina Federica Elisa Beatrice",
    ("tr", "m"): "Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim Murat Emre Burak Yusuf Ömer",
    ("tr", "f"): "Ayşe Fatma Emine Hatice Zeynep Elif Merve Özlem Gül Şule Büşra",
    ("sa", "m"): """Mohammed Raj Amit Sanjay Rahul Arjun Vikram Imran Asif Tariq Sunil Harpreet
        Gurpreet""",
    ("sa", "f"): """Priya Anjali Sunita Pooja Deepa Neha Kavita Aisha Nadia Fatima Ayesha Shabana
        Harpreet""",
    ("ar", "m"): "Mohamed Ahmed Youssef Karim Mehdi Rachid Samir Omar Hamza Bilal Nabil",
    ("ar", "f"): "Fatima Amina Leila Samira Yasmina Nour Salma Khadija Meriem Sofia",
    ("ea", "m"): "Wei Jun Hao Minh Tuan Hiroshi Kenji Jin",
    ("ea", "f"): "Mei Ling Yan Lan Thi Mai Yuki Hana",
}

# --------------------------------------------------------------------------------------------
# Surnames by origin, most popular first
# --------------------------------------------------------------------------------------------

_LAST: dict[str, str] = {
    "en": """
        Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
        Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Jackson Wood
        Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen
        James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly
        Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Marshall
        Anderson Simpson Ellis Adams Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Hunt
        Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker
        Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Fletcher Walsh Gibson Howard
        Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence
        Cole Atkinson Bradley Spencer Dawson Ball Burton Watts Rose Booth Perry Grant Wells
        Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe
        Page Marsh Riley Dunn Woods Stone Parsons Hamilton MacDonald McDonald Reid Ross Kerr
        Fraser Sutherland Henderson Johnston Paterson Morrison Wallace Robertson Thomson
        Stevenson Davidson Ferguson Cunningham Bowen Lloyd-Jones Smith-Jones Pritchard Vaughan
        Llewellyn Washington Jefferson Brooks Sullivan Hayes Myers Foster
    """,
    "us_es": """Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres
        Flores Rivera""",
    "de": """
        Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch
        Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann
        Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler
        Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn
        Vogel Friedrich Günther Keller Groß Böhm Frank Berger Winkler Lorenz Baumann
    """,
    "fr": """
        Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent
        Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre
        Mercier Dupont Lambert Bonnet François Legrand Garnier Faure Rousseau Blanc Guérin
        Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Fontaine
        Chevalier Robin Ménard Lemaître Benoît Géraud Besnard Lécuyer Dufrêne
    """,
    "ie": """
        Murphy Kelly O'Sullivan Walsh O'Brien Byrne Ryan O'Connor O'Neill O'Reilly Doyle
        McCarthy Gallagher O'Doherty Kennedy Lynch Murray Quinn Moore McLoughlin O'Carroll
        Connolly Daly O'Connell Dunne Brennan Burke Collins Fitzgerald Maguire Nolan Flynn
        Ó Súilleabháin Mac Giolla Ní Bhriain Power Hogan Foley Keane Sheehan MacNamara
    """,
    "pl": """
        Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański
        Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski
    """,
    "nordic": """Jørgensen Nielsen Hansen Søndergaard Andersen Larsen Pedersen Åberg Lindqvist
        Johansson Ødegaard""",
    "es": """
        García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín Jiménez
        Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Núñez Peña
    """,
    "pt": """Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Gonçalves Gomes Lopes Marques
        Simões""",
    "it": """Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo
        Conti""",
    "tr": "Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan",
    "sa": """Patel Khan Singh Ahmed Ali Hussain Shah Sharma Begum Kaur Rahman Iqbal Chaudhry Malik
        Gupta""",
    "ar": "Benali Haddad Mansour Bouaziz Saidi Cherif Belkacem Amrani El Idrissi Khalil",
    "ea": "Chen Wang Li Zhang Liu Nguyen Tran Le Pham Kim Park Tanaka Sato Wong",
}

# Per-country mixture over origins: the share of each origin in the population's names.
FIRST_NAME_MIX: dict[str, dict[str, float]] = {
    "GB": {"en": 0.80, "ie": 0.03, "sa": 0.05, "pl": 0.03, "ar": 0.02, "es": 0.01, "it": 0.01,
           "fr": 0.01, "de": 0.01, "nordic": 0.01, "pt": 0.01, "ea": 0.01},
    "US": {"en": 0.78, "es": 0.10, "ie": 0.02, "it": 0.02, "de": 0.01, "fr": 0.01, "sa": 0.02,
           "pl": 0.01, "ea": 0.03},
    "DE": {"de": 0.78, "tr": 0.07, "pl": 0.05, "en": 0.03, "it": 0.02, "nordic": 0.02,
           "fr": 0.01, "es": 0.01, "ar": 0.01},
    "FR": {"fr": 0.80, "ar": 0.07, "es": 0.03, "pt": 0.03, "it": 0.02, "en": 0.02, "de": 0.01,
           "ea": 0.02},
    "IE": {"en": 0.55, "ie": 0.36, "pl": 0.05, "es": 0.01, "fr": 0.01, "sa": 0.01, "pt": 0.01},
}
LAST_NAME_MIX: dict[str, dict[str, float]] = {
    "GB": {"en": 0.82, "ie": 0.04, "sa": 0.05, "pl": 0.02, "ar": 0.01, "it": 0.01, "es": 0.01,
           "de": 0.01, "nordic": 0.01, "ea": 0.01, "pt": 0.01},
    "US": {"en": 0.74, "us_es": 0.10, "ie": 0.04, "it": 0.02, "de": 0.02, "sa": 0.02, "ea": 0.04,
           "pl": 0.01, "fr": 0.01},
    "DE": {"de": 0.80, "tr": 0.07, "pl": 0.05, "it": 0.02, "en": 0.02, "nordic": 0.02,
           "es": 0.01, "ar": 0.01},
    "FR": {"fr": 0.80, "ar": 0.07, "es": 0.03, "pt": 0.04, "it": 0.03, "en": 0.01, "ea": 0.02},
    "IE": {"ie": 0.58, "en": 0.33, "pl": 0.05, "es": 0.01, "fr": 0.01, "sa": 0.01, "pt": 0.01},
}


def _split(text: str) -> list[str]:
    return text.split()


def _build_first_names() -> tuple[tuple[str, ...], np.ndarray, dict[tuple[str, str], np.ndarray]]:
    """One global table of first names (by name and sex) and, per (origin, sex), its indices."""
    names: list[str] = []
    sexes: list[int] = []
    index: dict[tuple[str, int], int] = {}
    by_origin: dict[tuple[str, str], list[int]] = {}
    for (origin, sex), text in _FIRST.items():
        code = 1 if sex == "m" else 0
        ids = []
        for name in _split(text):
            key = (name, code)
            if key not in index:
                index[key] = len(names)
                names.append(name)
                sexes.append(code)
            if index[key] not in ids:
                ids.append(index[key])
        by_origin[(origin, sex)] = ids
    return tuple(names), np.array(sexes, dtype=np.int8), {
        k: np.array(v, dtype=np.int32) for k, v in by_origin.items()
    }


def _build_last_names() -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    # "Ó Súilleabháin", "Mac Giolla", "Ní Bhriain", "El Idrissi" are two-word surnames.
    multi = {"Ó": "Ó Súilleabháin", "Mac": "Mac Giolla", "Ní": "Ní Bhriain", "El": "El Idrissi"}
    names: list[str] = []
    index: dict[str, int] = {}
    by_origin: dict[str, list[int]] = {}
    for origin, text in _LAST.items():
        ids = []
        tokens = _split(text)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in multi and i + 1 < len(tokens) and multi[tok] == f"{tok} {tokens[i + 1]}":
                tok = multi[tok]
                i += 1
            i += 1
            if tok not in index:
                index[tok] = len(names)
                names.append(tok)
            if index[tok] not in ids:
                ids.append(index[tok])
        by_origin[origin] = ids
    return tuple(names), {k: np.array(v, dtype=np.int32) for k, v in by_origin.items()}


FIRST_NAMES, FIRST_NAME_SEX, FIRST_BY_ORIGIN = _build_first_names()
LAST_NAMES, LAST_BY_ORIGIN = _build_last_names()


def zipf_weights(n: int, offset: float) -> np.ndarray:
    """Weights 1/(rank+offset), normalised: a larger offset flattens the head of the list."""
    w = 1.0 / (np.arange(n, dtype=np.float64) + offset)
    return w / w.sum()


@lru_cache(maxsize=None)
def first_name_distribution(country: str, sex: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices into FIRST_NAMES, probabilities) for people of ``country`` and ``sex`` (1=m)."""
    weights: dict[int, float] = {}
    s = "m" if sex == 1 else "f"
    for origin, share in FIRST_NAME_MIX[country].items():
        ids = FIRST_BY_ORIGIN[(origin, s)]
        for i, w in zip(ids, zipf_weights(len(ids), offset=8.0)):
            weights[int(i)] = weights.get(int(i), 0.0) + share * float(w)
    ids = np.array(sorted(weights), dtype=np.int32)
    p = np.array([weights[int(i)] for i in ids])
    return ids, p / p.sum()


@lru_cache(maxsize=None)
def last_name_distribution(country: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices into LAST_NAMES, probabilities) for people of ``country``."""
    weights: dict[int, float] = {}
    for origin, share in LAST_NAME_MIX[country].items():
        ids = LAST_BY_ORIGIN[origin]
        for i, w in zip(ids, zipf_weights(len(ids), offset=12.0)):
            weights[int(i)] = weights.get(int(i), 0.0) + share * float(w)
    ids = np.array(sorted(weights), dtype=np.int32)
    p = np.array([weights[int(i)] for i in ids])
    return ids, p / p.sum()


def ascii_fold(text: str) -> str:
    """Accents dropped the way most systems do it (Müller -> Muller, Łukasz -> Lukasz)."""
    return unidecode(text)


_GERMAN_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                              "ß": "ss"})


def german_fold(text: str) -> str:
    """Umlauts transliterated the German way (Müller -> Mueller), other accents dropped."""
    return unidecode(text.translate(_GERMAN_FOLD))


@lru_cache(maxsize=8192)
def email_token(text: str) -> str:
    """A name as it appears in an e-mail local part: folded, lower case, letters only."""
    return "".join(ch for ch in unidecode(text).lower() if ch.isalnum())


def _fold_ids(names: tuple[str, ...]) -> np.ndarray:
    """Per name, an id shared by all names with the same e-mail token (Zoë and Zoe -> same id)."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(email_token(n), len(seen)) for n in names], dtype=np.int32)


FIRST_FOLD_ID = _fold_ids(FIRST_NAMES)
LAST_FOLD_ID = _fold_ids(LAST_NAMES)

# --------------------------------------------------------------------------------------------
# Nicknames: only pairs the published `nicknames` list knows, restricted to ones in real use
# (the list also holds archaic ones such as hob for Robert, which would only add noise).
# --------------------------------------------------------------------------------------------

_COMMON_NICKNAMES = frozenset("""
    will willie rob robbie robby maggie meg marge liz lizzie beth bess libby eliza jack johnny
    jon jim jimmy jamie kate kathy cathy katy rick ricky rich richie ed eddie alex al pat patty
    trish tricia tom tommy mike mikey mick micky sue susie becky becca tony nick nicky chris joe
    joey dan danny matt sam sammy ben benny charlie dave pete andy steve stevie fred freddie
    freddy greg jeff geoff larry len lenny ron ronnie ken kenny ray doug gerry jerry tim timmy
    phil vic vince walt stan bernie bert frank frankie fran nat nate josh ollie abby abbie vicky
    tori mandy lou gill jill jackie jo deb debbie ellie nell dot dotty theo val connie kit
    marty jen jenny jenn
""".split())
# Nicknames that do not share the name's initial are kept only for these well-known pairs.
_IRREGULAR_NICKNAMES = frozenset({
    ("william", "bill"), ("william", "billy"), ("robert", "bob"), ("robert", "bobby"),
    ("richard", "dick"), ("margaret", "peggy"), ("margaret", "peg"), ("edward", "ted"),
    ("edward", "teddy"), ("edward", "ned"), ("henry", "harry"), ("henry", "hank"),
    ("mary", "molly"), ("mary", "polly"), ("elizabeth", "betty"), ("sarah", "sally"),
    ("charles", "chuck"), ("alexander", "sandy"), ("dorothy", "dolly"), ("catherine", "kate"),
    ("catherine", "kathy"), ("catherine", "katy"), ("christopher", "kit"), ("ann", "nan"),
    ("anne", "nan"), ("patricia", "trish"), ("patricia", "tricia"), ("eleanor", "nell"),
    ("eleanor", "ellie"), ("jennifer", "jenny"), ("john", "johnny"), ("anthony", "tony"),
    ("victoria", "tori"), ("amanda", "mandy"), ("jacqueline", "jackie"), ("josephine", "jo"),
})


@lru_cache(maxsize=1)
def nickname_table() -> dict[int, tuple[str, ...]]:
    """FIRST_NAMES index -> nicknames (capitalised, sorted) that a person might go by."""
    from nicknames import NickNamer

    namer = NickNamer()
    table: dict[int, tuple[str, ...]] = {}
    for i, name in enumerate(FIRST_NAMES):
        key = ascii_fold(name).lower()
        nicks = sorted(
            n for n in namer.nicknames_of(key)
            if n != key and (
                (n in _COMMON_NICKNAMES and n[0] == key[0]) or (key, n) in _IRREGULAR_NICKNAMES
            )
        )
        if nicks:
            table[i] = tuple(n.capitalize() for n in nicks)
    return table


# --------------------------------------------------------------------------------------------
# Places. Each city: (display name, weight, spelling variants, postcode scheme, landline area)
# --------------------------------------------------------------------------------------------

# GB postcode scheme: list of (area letters, first district, last district).
CITIES: dict[str, tuple[tuple[str, float, tuple[str, ...], object], ...]] = {
    "GB": (
        ("London", 30, ("LONDON", "london", "Greater London"),
         (("E", 1, 18), ("N", 1, 22), ("NW", 1, 11), ("SE", 1, 28), ("SW", 2, 20), ("W", 2, 14))),
        ("Birmingham", 7, ("BIRMINGHAM", "B'ham"), (("B", 1, 48),)),
        ("Manchester", 6, ("MANCHESTER", "Manchster"), (("M", 1, 46),)),
        ("Leeds", 5, ("LEEDS",), (("LS", 1, 29),)),
        ("Glasgow", 5, ("GLASGOW",), (("G", 1, 53),)),
        ("Liverpool", 4, ("LIVERPOOL",), (("L", 1, 38),)),
        ("Sheffield", 4, ("SHEFFIELD",), (("S", 1, 36),)),
        ("Bristol", 4, ("BRISTOL",), (("BS", 1, 16),)),
        ("Edinburgh", 4, ("EDINBURGH", "Edinburg"), (("EH", 1, 17),)),
        ("Newcastle upon Tyne", 3, ("Newcastle", "NEWCASTLE", "Newcastle-upon-Tyne"),
         (("NE", 1, 15),)),
        ("Nottingham", 3, ("NOTTINGHAM", "Nottm"), (("NG", 1, 17),)),
        ("Leicester", 3, ("LEICESTER",), (("LE", 1, 9),)),
        ("Cardiff", 3, ("CARDIFF", "Caerdydd"), (("CF", 3, 24),)),
        ("Belfast", 3, ("BELFAST",), (("BT", 1, 17),)),
        ("Brighton", 2, ("BRIGHTON", "Brighton and Hove", "Brighton & Hove"), (("BN", 1, 3),)),
        ("Oxford", 1.5, ("OXFORD",), (("OX", 1, 4),)),
        ("Cambridge", 1.5, ("CAMBRIDGE",), (("CB", 1, 5),)),
        ("York", 1.5, ("YORK",), (("YO", 1, 32),)),
    ),
    # US: ZIP range (inclusive). Boston's ZIPs start with 0 and lose it in spreadsheets.
    "US": (
        ("New York", 8, ("NEW YORK", "New York City", "NYC", "Brooklyn"), (10001, 10292)),
        ("Los Angeles", 4, ("LOS ANGELES", "LA"), (90001, 90089)),
        ("Chicago", 3, ("CHICAGO",), (60601, 60661)),
        ("Boston", 2, ("BOSTON",), (2108, 2137)),
        ("San Francisco", 2, ("SAN FRANCISCO", "SF"), (94102, 94134)),
        ("Seattle", 2, ("SEATTLE",), (98101, 98199)),
        ("Austin", 1.5, ("AUSTIN",), (78701, 78759)),
        ("Miami", 1.5, ("MIAMI",), (33125, 33199)),
        ("Denver", 1.5, ("DENVER",), (80202, 80249)),
        ("Philadelphia", 2, ("PHILADELPHIA", "Philly"), (19102, 19154)),
    ),
    "DE": (
        ("Berlin", 8, ("BERLIN",), (10115, 14199)),
        ("Hamburg", 4, ("HAMBURG",), (20095, 22769)),
        ("München", 3, ("Muenchen", "Munchen", "Munich", "MÜNCHEN"), (80331, 81929)),
        ("Köln", 2.5, ("Koeln", "Koln", "Cologne", "KÖLN"), (50667, 51149)),
        ("Frankfurt am Main", 2, ("Frankfurt", "Frankfurt a.M.", "FRANKFURT AM MAIN"),
         (60306, 60599)),
        ("Stuttgart", 1.5, ("STUTTGART",), (70173, 70629)),
        ("Düsseldorf", 1.5, ("Duesseldorf", "Dusseldorf", "DÜSSELDORF"), (40210, 40629)),
        ("Leipzig", 1.5, ("LEIPZIG",), (4103, 4357)),
    ),
    "FR": (
        ("Paris", 8, ("PARIS", "Paris Cedex"), (75001, 75020)),
        ("Marseille", 3, ("MARSEILLE", "Marseilles"), (13001, 13016)),
        ("Lyon", 3, ("LYON", "Lyons"), (69001, 69009)),
        ("Toulouse", 2, ("TOULOUSE",), (31000, 31500)),
        ("Nice", 1.5, ("NICE",), (6000, 6300)),
        ("Nantes", 1.5, ("NANTES",), (44000, 44300)),
        ("Strasbourg", 1.5, ("STRASBOURG",), (67000, 67200)),
        ("Bordeaux", 1.5, ("BORDEAUX",), (33000, 33800)),
        ("Lille", 1.5, ("LILLE",), (59000, 59800)),
    ),
    # IE: Eircode routing keys of the city.
    "IE": (
        ("Dublin", 10, ("DUBLIN", "Dublin 4", "Baile Átha Cliath", "Co. Dublin"),
         tuple(f"D{d:02d}" for d in range(1, 25))),
        ("Cork", 3, ("CORK", "Co. Cork"), ("T12", "T23")),
        ("Galway", 1.5, ("GALWAY", "Co. Galway"), ("H91",)),
        ("Limerick", 1.5, ("LIMERICK",), ("V94",)),
        ("Waterford", 1, ("WATERFORD",), ("X91",)),
    ),
}

# Flat city table: one row per (country, city); index used everywhere else.
CITY_COUNTRY: tuple[str, ...] = tuple(c for c, rows in CITIES.items() for _ in rows)
CITY_NAME: tuple[str, ...] = tuple(r[0] for rows in CITIES.values() for r in rows)
CITY_VARIANTS: tuple[tuple[str, ...], ...] = tuple(r[2] for rows in CITIES.values() for r in rows)
CITY_POSTCODE: tuple[object, ...] = tuple(r[3] for rows in CITIES.values() for r in rows)


@lru_cache(maxsize=None)
def city_distribution(country: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the flat city table, probabilities) for ``country``."""
    ids = np.array([i for i, c in enumerate(CITY_COUNTRY) if c == country], dtype=np.int32)
    w = np.array([r[1] for r in CITIES[country]], dtype=np.float64)
    return ids, w / w.sum()


GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
EIRCODE_CHARS = "ACDEFHKNPRTVWXY0123456789"

# Street names. GB/IE: name + type; US: name + type with the number first; DE: number after;
# FR: number first, lower-case type.
STREETS_GB = tuple(_split("""
    High Station Main Park Church London Victoria Green Manor Kings Queens Grange Mill New
    School North South West Albert York Springfield Windsor George Chester Richmond Alexandra
    Cromwell Nelson Stanley Highfield Elm Oak Ash Beech Birch Cedar Willow Maple Orchard Meadow
    Riverside Heath Hollybush Wellington Marlborough Sandringham Clarence Devonshire Grosvenor
    Hamilton Lansdowne Moorland Cherry Castle Bridge Farm Lime Poplar Ferndale Belmont
""")) + ("St John's", "St Mary's", "Queen's", "Acacia")
STREET_TYPES_GB = ("Road", "Street", "Avenue", "Lane", "Close", "Drive", "Gardens", "Way",
                   "Crescent", "Place", "Terrace", "Grove")
STREET_TYPES_GB_WEIGHTS = (0.30, 0.20, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02)
STREET_ABBREV = {"Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Close": "Cl",
                 "Drive": "Dr", "Gardens": "Gdns", "Crescent": "Cres", "Place": "Pl",
                 "Terrace": "Terr", "Grove": "Gr", "Way": "Wy", "Boulevard": "Blvd",
                 "Court": "Ct"}
STREETS_IE = ("Main", "Church", "Abbey", "O'Connell", "Patrick", "Shop", "Strand", "Castle",
              "Mill", "Bridge", "Dublin", "Cork", "Barrack", "Chapel", "Convent", "Green",
              "Parnell", "Grattan", "Pearse", "Sráid an Mhuilinn", "Bóthar na Trá")
STREETS_US = ("Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Pine",
              "Park", "Sunset", "Lincoln", "Jefferson", "Madison", "Franklin", "Church",
              "Highland", "Ridge", "River", "Spring", "Walnut", "Chestnut", "1st", "2nd", "3rd",
              "5th", "7th", "Market", "Adams", "Jackson")
STREET_TYPES_US = ("Street", "Avenue", "Road", "Boulevard", "Drive", "Lane", "Court", "Place",
                   "Way")
STREETS_DE = tuple(_split("""
    Hauptstraße Bahnhofstraße Gartenstraße Schulstraße Dorfstraße Bergstraße Lindenstraße
    Kirchstraße Waldstraße Ringstraße Schillerstraße Goethestraße Mühlenweg Friedrichstraße
    Mozartstraße Rosenweg Birkenweg Königsallee Kastanienallee Uhlandstraße Müllerstraße
    Jahnstraße Lessingstraße Feldstraße Poststraße Wiesenweg Sonnenstraße Talstraße
    Blumenstraße Schloßstraße Bürgerstraße Römerstraße
""")) + ("Am Markt", "Unter den Linden", "Alte Gasse")
STREETS_FR = ("rue de la République", "rue Victor Hugo", "boulevard Saint-Michel",
              "rue Pasteur", "rue Jean Jaurès", "place de la Mairie",
              "rue du Général de Gaulle", "avenue Foch", "rue de l'Église",
              "chemin des Vignes", "impasse des Lilas", "rue Émile Zola", "allée des Chênes",
              "rue des Écoles", "quai de la Loire", "rue Nationale", "rue du Moulin",
              "rue de la Gare", "avenue Jean Moulin", "rue Gambetta", "boulevard Voltaire",
              "rue de la Paix", "avenue de la Libération", "rue Sainte-Catherine")
FR_ABBREV = {"rue ": "r. ", "avenue ": "av. ", "boulevard ": "bd ", "place ": "pl. ",
             "chemin ": "ch. ", "impasse ": "imp. ", "allée ": "all. "}

# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------

EMAIL_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "GB": (("gmail.com", 0.34), ("hotmail.co.uk", 0.14), ("yahoo.co.uk", 0.09),
           ("outlook.com", 0.10), ("btinternet.com", 0.08), ("icloud.com", 0.07),
           ("sky.com", 0.04), ("live.co.uk", 0.04), ("aol.com", 0.02), ("virginmedia.com", 0.03),
           ("talktalk.net", 0.02), ("googlemail.com", 0.03)),
    "US": (("gmail.com", 0.45), ("yahoo.com", 0.15), ("hotmail.com", 0.08), ("aol.com", 0.06),
           ("outlook.com", 0.10), ("icloud.com", 0.12), ("comcast.net", 0.04)),
    "DE": (("gmx.de", 0.25), ("web.de", 0.22), ("gmail.com", 0.25), ("t-online.de", 0.13),
           ("outlook.de", 0.05), ("yahoo.de", 0.05), ("freenet.de", 0.05)),
    "FR": (("gmail.com", 0.33), ("orange.fr", 0.20), ("free.fr", 0.13), ("laposte.net", 0.08),
           ("sfr.fr", 0.08), ("hotmail.fr", 0.10), ("yahoo.fr", 0.08)),
    "IE": (("gmail.com", 0.42), ("hotmail.com", 0.15), ("eircom.net", 0.12), ("yahoo.ie", 0.08),
           ("outlook.com", 0.10), ("icloud.com", 0.08), ("live.ie", 0.05)),
}
DOMAINS: tuple[str, ...] = tuple(sorted({d for rows in EMAIL_DOMAINS.values() for d, _ in rows}))
DOMAIN_ID = {d: i for i, d in enumerate(DOMAINS)}
GMAIL_IDS = frozenset(DOMAIN_ID[d] for d in ("gmail.com", "googlemail.com"))

# Local-part patterns. Codes are stable: the e-mail dedupe key uses them.
EMAIL_PATTERNS = ("first.last", "firstlast", "f.last", "flast", "first_last", "lastf",
                  "first.lastNN", "firstNN", "last.first", "handleNN")
EMAIL_PATTERN_WEIGHTS = (0.22, 0.12, 0.08, 0.08, 0.05, 0.04, 0.15, 0.10, 0.04, 0.12)
PATTERN_NEEDS_NUMBER = (False, False, False, False, False, False, True, True, False, True)
PATTERN_USES_LAST = (True, True, True, True, True, True, True, False, True, False)
HANDLE_WORDS = tuple(_split("""
    sunshine dragon tiger bluebird starlight moonbeam redfox silverfern greenleaf stormy
    happyday rockstar skyline firefly goldfish snowdrop wildrose nightowl seabreeze thunder
    pixie rainbow maverick phoenix shadow wanderer daydream cobalt amber jazzcat
"""))
EMAIL_TAGS = ("shop", "loyalty", "news", "orders", "promo", "2024", "web")
DOMAIN_TYPOS = {"gmail.com": "gmial.com", "hotmail.co.uk": "hotmial.co.uk",
                "yahoo.co.uk": "yahoo.co", "outlook.com": "outlok.com",
                "hotmail.com": "hotmail.con",
                "icloud.com": "icloud.co", "gmx.de": "gmx.d", "orange.fr": "orange.f"}

# --------------------------------------------------------------------------------------------
# Placeholders and junk: values a standardiser must recognise and null.
# --------------------------------------------------------------------------------------------

PLACEHOLDER_NAMES: tuple[tuple[str, str], ...] = (
    ("Walk-in", "Guest"), ("Test", "Test"), ("N/A", "N/A"), ("Unknown", "Unknown"),
    ("Guest", ""), ("Customer", "Customer"), ("X", "X"), ("walk-in guest", ""),
)
PLACEHOLDER_FULL_NAMES: tuple[str, ...] = ("walk-in guest", "test test", "n/a", "unknown",
                                           "Guest Customer", "TEST", "xxx")
JUNK_PHONES: tuple[str, ...] = ("000-000-0000", "0000000000", "1234567890", "00000 000000",
                                "n/a", "999", "+44 0000 000000", "07000000000")
JUNK_EMAILS: tuple[str, ...] = ("noemail@noemail.com", "none@none.com", "test@test.com",
                                "na@na.com", "no@email.com", "unknown@unknown.com")
JUNK_DOB = (1900, 1, 1)

TITLES_MALE = ("Mr", "Mr", "Mr.", "MR", "Dr", "Sir")
TITLES_FEMALE_MARRIED = ("Mrs", "Mrs", "Mrs.", "MRS", "Ms", "Dr")
TITLES_FEMALE = ("Ms", "Miss", "Ms", "Miss.", "MS", "Dr")

# --------------------------------------------------------------------------------------------
# Companies (CRM accounts)
# --------------------------------------------------------------------------------------------

COMPANY_WORDS = ("Acme", "Summit", "Northern", "Apex", "Riverside", "Oakwood", "Brightside",
                 "Pioneer", "Crown", "Harbour", "Evergreen", "Sterling", "Beacon", "Meridian",
                 "Phoenix", "Vanguard", "Keystone", "Granite", "Silverline", "Bluewater")
COMPANY_INDUSTRIES = ("Plumbing", "Builders", "Consulting", "Catering", "Logistics",
                      "Electrical", "Landscaping", "Design", "Motors", "Dental Practice",
                      "Bakery", "Florists", "Accountants", "Joinery", "Cleaning Services",
                      "Solutions", "Trading", "Events", "Properties", "Print")
COMPANY_SUFFIX: dict[str, tuple[str, ...]] = {
    "GB": ("Ltd", "Limited", "Ltd.", "LLP", "& Sons Ltd", "plc"),
    "US": ("Inc", "Inc.", "LLC", "Corp", "Co."),
    "DE": ("GmbH", "GmbH & Co. KG", "AG", "e.K."),
    "FR": ("SARL", "SAS", "S.A.", "EURL"),
    "IE": ("Ltd", "Limited", "Teoranta", "DAC"),
}
COMPANY_EMAIL_USERS = ("info", "accounts", "office", "hello", "admin", "sales", "bookings")

# --------------------------------------------------------------------------------------------
# Commerce
# --------------------------------------------------------------------------------------------

CATEGORIES: tuple[str, ...] = ("electronics", "home", "garden", "toys", "beauty", "grocery",
                               "clothing", "sports")
# Median unit price (in the local currency) and log-scale spread per category.
CATEGORY_PRICE: tuple[tuple[float, float], ...] = (
    (120.0, 0.8), (35.0, 0.6), (25.0, 0.6), (20.0, 0.5), (15.0, 0.5), (30.0, 0.5),
    (40.0, 0.5), (45.0, 0.6),
)
STORES_PER_CITY = 3
