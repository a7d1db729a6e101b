"""Word lists for the synthetic records: people, clinicians, allergies, vaccines, procedures, histories.

Everything here is plain data. Patient surnames and clinician surnames are disjoint on purpose: a
question that names "Maria Lopez" must point retrieval at one patient, not at every note Dr. Lopez signed.
"""

from __future__ import annotations

# fmt: off
FEMALE_FIRST = [
    "Maria", "Susan", "Linda", "Patricia", "Aisha", "Mei", "Olga", "Fatima", "Grace", "Helen", "Ingrid",
    "Julia", "Karen", "Lakshmi", "Nadia", "Rosa", "Sofia", "Teresa", "Yuki", "Zainab", "Beatriz", "Carmen",
    "Dorothy", "Eleanor", "Farah", "Gloria", "Hana", "Irene", "Joan", "Keiko", "Leticia", "Margaret", "Nancy",
    "Priya", "Ruth", "Sandra", "Tamara", "Valentina", "Wanda", "Ximena", "Yolanda", "Amara", "Bridget",
    "Chloe", "Deborah", "Esther", "Frances", "Gabriela", "Hilda", "Isabel", "Janet", "Kathleen", "Lorraine",
    "Marisol", "Noreen", "Ophelia", "Paulette", "Renata", "Shirley", "Ursula",
]
MALE_FIRST = [
    "James", "Robert", "Michael", "David", "Ahmed", "Wei", "Ivan", "Carlos", "George", "Henry", "Ibrahim",
    "Jorge", "Kenji", "Luis", "Mohammed", "Nikolai", "Omar", "Pedro", "Rajesh", "Samuel", "Thomas", "Victor",
    "Walter", "Yusuf", "Arthur", "Bernard", "Chidi", "Dmitri", "Emmanuel", "Francisco", "Gerald", "Hiroshi",
    "Isaac", "Jamal", "Kwame", "Leonard", "Marcus", "Nathan", "Oscar", "Patrick", "Raymond", "Stanley",
    "Tobias", "Umar", "Vincent", "Winston", "Xavier", "Yaroslav", "Abel", "Boris", "Cedric", "Desmond",
    "Ernesto", "Felix", "Gustavo", "Harold", "Ignacio", "Joaquin", "Lionel", "Mateo",
]
LAST = [
    "Lopez", "Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Johansson", "Tanaka", "Fernandez", "Murphy",
    "Schneider", "Ivanenko", "Mensah", "Rossi", "Kim", "Dubois", "Castillo", "Adeyemi", "Novak", "Sato",
    "Hughes", "Bergstrom", "Mahmoud", "Petrovic", "Reyes", "Sullivan", "Wojcik", "Yamamoto", "Zhang", "Abara",
    "Bianchi", "Costa", "Delgado", "Eriksen", "Fischer", "Gallagher", "Horvath", "Iwasaki", "Jankowski",
    "Kaplan", "Lindqvist", "Moreau", "Nakamura", "Oduya", "Papadopoulos", "Quinlan", "Romero", "Sandoval",
    "Takahashi", "Ueda", "Vargas", "Whitfield", "Xu", "Yilmaz", "Zamora", "Alvarez", "Brennan", "Chowdhury",
    "Dimitrov", "Esposito", "Flanagan", "Guerrero", "Hoffmann", "Ionescu", "Jovanovic", "Kuznetsov", "Larsen",
    "Mwangi", "Nowak", "Ortega", "Pereira", "Rahman", "Salazar", "Thornton", "Valdez", "Weber", "Achebe",
    "Barros", "Cardenas", "Donnelly", "Eze", "Fontaine", "Grossman", "Hakimi", "Ito", "Jensen", "Kagame",
    "Laurent", "Medina", "Nilsson", "Osei", "Pacheco", "Ramsey", "Szabo", "Toure", "Vasquez",
]
CLINICIANS = [
    "Dr. Anika Rao", "Dr. Benjamin Carter", "Dr. Claire Whitman", "Dr. Daniel Osterberg", "Dr. Elena Marsh",
    "Dr. Farid Qureshi", "Dr. Gwen Holloway", "Dr. Hector Ibarra", "Dr. Imogen Park", "Dr. Jonah Feldman",
    "Dr. Kavita Menon", "Dr. Lucas Brandt", "Dr. Miriam Achterberg", "Dr. Noah Lindgren", "Dr. Olivia Tran",
]
NURSE_PRACTITIONERS = [
    "J. Ellison, NP", "R. Baptiste, NP", "S. Kowal, PA-C", "T. Amundsen, NP",
]
CITIES = [
    "Springfield", "Riverton", "Lakeside", "Fairview", "Maplewood", "Oak Harbor", "Brookfield",
]
OCCUPATIONS = [
    "retired teacher", "bus driver", "accountant", "warehouse supervisor", "registered nurse", "electrician",
    "retired machinist", "software developer", "home health aide", "restaurant owner",
    "retired postal worker", "farmer", "pharmacist", "construction foreman", "librarian", "truck driver",
    "hair stylist",
]
LIVING = [
    "lives with spouse", "lives alone in an apartment", "lives with daughter and grandchildren",
    "lives with spouse in a two-story house", "lives with adult son", "lives with partner",
    "lives in an assisted living facility",
]
# Common allergies: (allergen, reaction). Rare ones, planted in 2-4 patients each, are in RARE_ALLERGIES.
ALLERGIES = [
    ("penicillin", "hives"), ("sulfonamide antibiotics", "maculopapular rash"),
    ("codeine", "nausea and vomiting"), ("amoxicillin", "diffuse urticaria"), ("ibuprofen", "GI upset"),
    ("morphine", "pruritus"), ("cephalexin", "rash"), ("erythromycin", "abdominal cramping"),
    ("adhesive tape", "contact dermatitis"),
]
RARE_ALLERGIES = [
    ("latex", "contact urticaria"), ("iodinated contrast", "bronchospasm"), ("peanuts", "anaphylaxis"),
    ("shellfish", "angioedema"), ("bee stings", "generalized urticaria and wheezing"),
]
# Outpatient procedures: (name, possible findings).
PROCEDURES = [
    ("screening colonoscopy", ["2 small tubular adenomas removed, repeat in 7 yrs",
                               "no polyps, repeat in 10 yrs", "sigmoid diverticulosis, no polyps",
                               "1 hyperplastic polyp removed"]),
    ("transthoracic echocardiogram", ["LVEF 55-60%, mild LVH", "LVEF 35%, global hypokinesis",
                                      "LVEF 60%, mild MR", "LVEF 45%, grade II diastolic dysfunction"]),
    ("12-lead ECG", ["NSR, no acute ST changes", "atrial fibrillation w/ RVR, rate 128",
                     "sinus bradycardia, rate 54", "LVH by voltage criteria"]),
    ("spirometry", ["FEV1/FVC 0.62, FEV1 58% predicted, post-BD no significant reversibility",
                    "FEV1/FVC 0.68, FEV1 71% predicted, 14% improvement post-BD", "normal spirometry"]),
    ("dilated retinal exam", ["no diabetic retinopathy", "mild nonproliferative diabetic retinopathy OU",
                              "moderate NPDR OD, mild NPDR OS"]),
    ("screening mammogram", ["BI-RADS 1, negative", "BI-RADS 2, benign calcifications"]),
    ("DEXA scan", ["T-score -1.8 at femoral neck (osteopenia)", "T-score -2.7 at L-spine (osteoporosis)",
                   "normal bone density"]),
    ("low-dose CT chest", ["Lung-RADS 2, 4 mm RUL nodule", "Lung-RADS 1, no nodules"]),
    ("right knee steroid injection", ["triamcinolone 40 mg injected, tolerated well"]),
    ("renal ultrasound", ["bilateral kidneys 9.8 and 10.1 cm, increased echogenicity, no hydronephrosis"]),
    ("thyroid ultrasound", ["diffusely heterogeneous gland, no discrete nodules"]),
]
# Rare attributes below are planted in 2-4 patients each (cohort.py) for "which patients" questions.
RARE_PROCEDURES = [
    ("transcatheter aortic valve replacement (TAVR)", "26 mm balloon-expandable valve, no paravalvular leak"),
    ("carotid endarterectomy", "left CEA for 80% symptomatic stenosis, uncomplicated"),
    ("dual-chamber pacemaker implantation", "for symptomatic complete heart block"),
    ("laparoscopic cholecystectomy", "for symptomatic cholelithiasis, uncomplicated"),
    ("cataract extraction with IOL, left eye", "uncomplicated, vision 20/30 at 1 wk"),
]
# (diagnosis, ICD-10, supporting detail)
RARE_DIAGNOSES = [
    ("gout", "M10.9", "first MTP joint podagra, uric acid 9.1 mg/dL"),
    ("pulmonary sarcoidosis", "D86.0",
     "bilateral hilar lymphadenopathy on CXR, biopsy w/ noncaseating granulomas"),
    ("hereditary hemochromatosis", "E83.110", "ferritin 1240 ng/mL, C282Y homozygous"),
    ("myasthenia gravis", "G70.00", "AChR antibody positive, fatigable ptosis"),
]
RARE_FAMILY = [
    "brother with Huntington disease", "mother with polycystic kidney disease",
    "father with hereditary angioedema",
]
FAMILY_HISTORY = [
    "father w/ MI at age 58", "mother w/ type 2 diabetes", "mother w/ breast cancer at 62",
    "father w/ colon cancer at 70", "sister w/ hypothyroidism", "brother w/ HTN", "mother w/ stroke at 74",
    "father w/ COPD (heavy smoker)", "maternal grandmother w/ dementia", "no known family hx of CAD",
    "father w/ prostate cancer", "mother w/ rheumatoid arthritis", "brother w/ alcohol use disorder",
]
TOBACCO = [
    "never smoker", "former smoker, quit {quit} ({packs} pack-yrs)",
    "current smoker, {ppd} ppd ({packs} pack-yrs)",
]
ALCOHOL = [
    "no alcohol", "social alcohol, 1-2 drinks/wk", "2-3 beers on weekends", "1 glass of wine nightly",
]
EXERCISE = [
    "walks 30 min most days", "sedentary", "swims twice a week", "gardening, no formal exercise", "gym 3x/wk",
]
# fmt: on
