"""The main nomenclatures of the regulation (OMEN 3666/2016 as amended, chapter V), as seeded
from the academic year 2015-2016 on (the year RMUR starts, art. 6). Plain data, no imports.

The central authority adds values per academic year and retires them through the API; these
are only the first version of each list. Codes are stable ASCII identifiers (what files and
integrators send); labels are the regulation's Romanian wording.
"""
from __future__ import annotations

FIRST_YEAR = "2015-2016"

NOMENCLATURES: dict[str, list[tuple[str, str]]] = {
    "cycle": [
        ("licenta", "Licență"), ("master", "Master"), ("doctorat", "Doctorat"),
        ("an_pregatitor", "An pregătitor"), ("rezidentiat", "Rezidențiat"),
        ("postuniversitar", "Studii postuniversitare"), ("alte_forme", "Alte forme de studii"),
        # pupils of schools (the catalog's part of the path from school to doctorate)
        ("primar", "Învățământ primar"), ("gimnazial", "Învățământ gimnazial"), ("liceal", "Învățământ liceal"),
    ],
    "education_form": [
        ("IF", "Învățământ cu frecvență"), ("IFR", "Învățământ cu frecvență redusă"),
        ("ID", "Învățământ la distanță"),
    ],
    "financing": [
        ("buget", "Susținut de la buget"), ("taxa_cpl", "Cu taxă – Cont Propriu Lei (CPL)"),
        ("taxa_cpv", "Cu taxă – Cont Propriu Valutar (CPV)"), ("bursier", "Bursier"),
        ("taxa_cpnv", "Cu taxă – Cont Propriu Nevalutar (CPNV)"),
        ("alte_surse", "Finanțare din alte surse legal constituite"),
    ],
    "scholarship_type": [
        ("nebursier", "Nebursier"), ("bursa_statului_roman", "Bursă a statului român"),
        ("meritul_olimpic", "Bursa Meritul Olimpic (MEN)"), ("excelenta", "Bursă de excelență/performanță"),
        ("merit", "Bursă de merit"), ("studiu", "Bursă de studiu"), ("sociala", "Bursă socială"),
        ("alt_tip_legal", "Alt tip de bursă din surse legal constituite"),
        ("ajutor_social_ocazional", "Bursă de ajutor social, ocazională"), ("rurala", "Bursă rurală (MEN)"),
        ("doctorala", "Bursă doctorală (grant doctoral)"),
        ("doctorala_posdru", "Bursă doctorală POSDRU/POCU"),
        ("extrabugetar", "Alt tip de bursă din venituri extrabugetare"),
    ],
    "enrolment_situation": [
        ("inmatriculat_admitere", "Înmatriculat (prin concurs de admitere, la continuare de studii, "
                                  "prin decizie de la minister)"),
        ("inmatriculat_transfer", "Înmatriculat (prin transfer, prin mobilitate, în an pregătitor)"),
        ("reinmatriculat", "Reînmatriculat"),
    ],
    "start_situation": [
        ("admis", "Admis (prin concurs, ca olimpic internațional, la continuare de studii)"),
        ("repartizat_minister", "Repartizat de minister"),
        ("echivalare_studii", "Echivalare studii (1 an, 2 ani, 3 ani)"),
        ("revenire_intrerupere", "Revenire din întrerupere de studii"),
        ("inscris", "Înscris în an de studii/Înscris la repetare de studii/Reînmatriculat"),
    ],
    "end_situation": [
        ("promovat", "Promovat (integralist, prin credite, 2 ani de studii într-un an universitar)"),
        ("transferat", "Transferat în interiorul universității, interuniversitar, în afara țării, trunchi comun"),
        ("nepromovat", "Nepromovat"), ("mobilitate", "În mobilitate/Finalizare stagiu mobilitate"),
        ("exmatriculat", "Exmatriculat [cu drept de (re)înscriere]"),
        ("prelungire_scolaritate", "Prelungire de școlaritate, prelungire medicală, perioadă de grație, "
                                   "amânarea susținerii tezei de doctorat"),
        ("retras", "Retragere de la studii"), ("intrerupere", "Întrerupere de studii"),
        ("absolvent", "Absolvent (propriu cu diplomă, fără diplomă, provenit de la altă instituție, cu diplomă)"),
    ],
    "civil_status": [
        ("casatorit", "Căsătorit(ă)"), ("necasatorit", "Necăsătorit(ă)"),
        ("divortat_vaduv", "Divorțat(ă)/Văduv(ă)"), ("nedeclarat", "Nedeclarată"),
    ],
    "social_status": [
        ("orfan_case_copii_monoparental", "Orfan (de un părinte sau de ambii părinți)/Provenit din case de "
                                          "copii/Provenit din familie monoparentală"),
        ("grupuri_dezavantajate", "Provenit din grupuri dezavantajate/medii defavorizate"),
    ],
    "medical_situation": [
        ("dizabilitati", "Persoană cu dizabilități"), ("boli_grave", "Boli grave și incurabile"),
        ("alte_situatii", "Alte situații"),
    ],
    "ethnicity": [
        ("romana", "Română"), ("maghiara", "Maghiară"), ("roma", "Romă"), ("ucraineana", "Ucraineană"),
        ("germana", "Germană"), ("turca", "Turcă"), ("lipoveana", "Ruso-lipoveană"), ("tatara", "Tătară"),
        ("sarba", "Sârbă"), ("slovaca", "Slovacă"), ("bulgara", "Bulgară"), ("croata", "Croată"),
        ("greaca", "Greacă"), ("evreiasca", "Evreiască"), ("ceha", "Cehă"), ("poloneza", "Poloneză"),
        ("italiana", "Italiană"), ("armeana", "Armeană"), ("macedoneana", "Macedoneană"), ("alta", "Altă etnie"),
        ("nedeclarat", "Nedeclarată"),
    ],
    "accommodation": [
        ("caminist", "Căminist"), ("caminist_parinti_cadre", "Căminist cu părinți cadre didactice"),
        ("necaminist_subventie", "Necăminist, cu subvenție cazare"),
        ("caminist_orfan", "Căminist orfan de ambii părinți"), ("necaminist", "Necăminist"),
    ],
    "id_document_type": [
        ("CI", "Carte de identitate"), ("BI", "Buletin de identitate"), ("pasaport", "Pașaport"),
        ("document_calatorie", "Document de călătorie (numai pentru studenții străini)"),
    ],
    "high_school_form": [("zi", "Zi"), ("seral", "Seral"), ("FR", "Frecvență redusă"), ("ID", "Învățământ la distanță")],
    "diploma_type": [
        ("diploma_bacalaureat", "Diplomă de bacalaureat"), ("echivalenta_bacalaureat", "Diplomă echivalentă bacalaureatului"),
        ("diploma_licenta", "Diplomă de licență"), ("diploma_inginer", "Diplomă de inginer"),
        ("diploma_master", "Diplomă de master"), ("diploma_doctor", "Diplomă de doctor"),
        ("certificat", "Certificat/Atestat"), ("diploma_absolvire", "Diplomă de absolvire"),
    ],
    "county": [
        ("AB", "Alba"), ("AR", "Arad"), ("AG", "Argeș"), ("BC", "Bacău"), ("BH", "Bihor"),
        ("BN", "Bistrița-Năsăud"), ("BT", "Botoșani"), ("BV", "Brașov"), ("BR", "Brăila"), ("BZ", "Buzău"),
        ("CS", "Caraș-Severin"), ("CJ", "Cluj"), ("CT", "Constanța"), ("CV", "Covasna"), ("DB", "Dâmbovița"),
        ("DJ", "Dolj"), ("GL", "Galați"), ("GJ", "Gorj"), ("HR", "Harghita"), ("HD", "Hunedoara"),
        ("IL", "Ialomița"), ("IS", "Iași"), ("IF", "Ilfov"), ("MM", "Maramureș"), ("MH", "Mehedinți"),
        ("MS", "Mureș"), ("NT", "Neamț"), ("OT", "Olt"), ("PH", "Prahova"), ("SM", "Satu Mare"),
        ("SJ", "Sălaj"), ("SB", "Sibiu"), ("SV", "Suceava"), ("TR", "Teleorman"), ("TM", "Timiș"),
        ("TL", "Tulcea"), ("VS", "Vaslui"), ("VL", "Vâlcea"), ("VN", "Vrancea"), ("B", "București"),
        ("CL", "Călărași"), ("GR", "Giurgiu"),
    ],
}

# The county codes of the CNP (digits 8-9) per county code above, for the reader's reference
# and for checking a CNP's county against a declared birth county.
CNP_COUNTY_DIGITS: dict[str, str] = {
    code: f"{n:02d}" for n, (code, _label) in enumerate(NOMENCLATURES["county"][:39], start=1)
} | {"B": "40", "CL": "51", "GR": "52"}

# The statuses after which the person's records are a read-only archive (art. 3(2)).
ENDED_STATUSES = ("graduated", "withdrawn", "expelled", "deceased")
STATUSES = ("active", "interrupted", *ENDED_STATUSES)
