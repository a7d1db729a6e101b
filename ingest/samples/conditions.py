"""Chronic conditions and how they are treated: a marker, a goal, and a ladder of treatment steps.

Each condition is data that one generic engine (``course.py``) runs: the marker (a lab or a vital) sits
out of goal at diagnosis, each ladder step pulls it toward goal, and the clinician climbs one step when
the marker is still out of goal after ``settle_days``. That is what makes trajectories plausible, e.g.
HbA1c falls over the three months after metformin starts and creeps back up years later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clinical import Med


@dataclass(frozen=True)
class Step:
    med: Med
    replaces: str | None = None  # drug this step stops (e.g. fluticasone -> fluticasone-salmeterol)


@dataclass(frozen=True)
class Condition:
    key: str
    name: str
    abbrev: str  # how notes write it: "DM2", "HTN"
    icd10: str
    marker: str | None  # lab key or vital ("sbp", "hr"); None = symptom-treated only
    goal: float | None  # marker goal: above it (direction -1) or below it (+1) means "step up"
    direction: int  # -1: treatment lowers the marker; +1: raises it
    dx_range: tuple[float, float]  # marker at diagnosis, untreated
    normal: tuple[float, float]  # marker long before onset
    drift: float  # untreated marker change per year after diagnosis
    ladder: tuple[Step, ...]
    settle_days: int  # earliest re-escalation after a change (e.g. 3 months for HbA1c)
    monitor: dict[str, int] = field(default_factory=dict)  # lab -> days between draws (0: every visit)
    fixed: tuple[Med, ...] = ()  # started at diagnosis, not titrated
    complaints: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    exam: tuple[str, ...] = ()
    min_age: int = 18


def _steps(*meds: Med | tuple[Med, str]) -> tuple[Step, ...]:
    return tuple(Step(m[0], m[1]) if isinstance(m, tuple) else Step(m) for m in meds)


_BMP = {"creatinine": 365, "egfr": 365, "potassium": 365, "sodium": 365}

CONDITIONS: dict[str, Condition] = {
    c.key: c
    for c in [
        # fmt: off
        Condition(
            key="dm2",
            name="Type 2 diabetes mellitus",
            abbrev="DM2",
            icd10="E11.9",
            marker="hba1c",
            goal=7.0,
            direction=-1,
            dx_range=(7.6, 10.4),
            normal=(5.3, 6.1),
            drift=0.22,
            ladder=_steps(
                Med("metformin", "500 mg", "BID"),
                Med("metformin", "1000 mg", "BID"),
                Med("empagliflozin", "10 mg", "daily"),
                Med("empagliflozin", "25 mg", "daily"),
                Med("insulin glargine", "10 units", "qHS", "SC"),
                Med("insulin glargine", "16 units", "qHS", "SC"),
                Med("insulin glargine", "24 units", "qHS", "SC"),
                Med("insulin glargine", "32 units", "qHS", "SC"),
            ),
            settle_days=85,
            monitor={
                "hba1c": 90,
                "glucose": 90,
                "creatinine": 180,
                "egfr": 180,
                "potassium": 180,
                "uacr": 365,
                "ldl": 365,
            },
            complaints=(
                "polyuria",
                "increased thirst",
                "fatigue",
                "blurry vision at times",
                "tingling in both feet",
            ),
            negatives=(
                "denies polyuria/polydipsia",
                "no hypoglycemic episodes",
                "denies foot ulcers",
                "no vision changes",
            ),
            exam=(
                "monofilament sensation intact bilat",
                "feet w/o ulcers or calluses",
                "decreased monofilament sensation bilat toes",
            ),
        ),
        Condition(
            key="htn",
            name="Essential hypertension",
            abbrev="HTN",
            icd10="I10",
            marker="sbp",
            goal=130,
            direction=-1,
            dx_range=(146, 168),
            normal=(116, 128),
            drift=1.0,
            ladder=_steps(
                Med("lisinopril", "10 mg", "daily"),
                Med("lisinopril", "20 mg", "daily"),
                Med("lisinopril", "40 mg", "daily"),
                Med("amlodipine", "5 mg", "daily"),
                Med("amlodipine", "10 mg", "daily"),
                Med("chlorthalidone", "12.5 mg", "daily"),
            ),
            settle_days=28,
            monitor=dict(_BMP),
            complaints=("occasional headaches", "home BP readings 140s-150s", "mild dizziness on standing"),
            negatives=("denies chest pain", "no SOB", "denies vision changes", "no headaches"),
            exam=("no carotid bruits", "RRR, no m/r/g", "no LE edema"),
        ),
        Condition(
            key="hld",
            name="Hyperlipidemia",
            abbrev="HLD",
            icd10="E78.5",
            marker="ldl",
            goal=100,
            direction=-1,
            dx_range=(152, 205),
            normal=(96, 124),
            drift=1.0,
            ladder=_steps(
                Med("atorvastatin", "20 mg", "qHS"),
                Med("atorvastatin", "40 mg", "qHS"),
                Med("atorvastatin", "80 mg", "qHS"),
                Med("ezetimibe", "10 mg", "daily"),
            ),
            settle_days=80,
            monitor={"ldl": 365, "hdl": 365, "tg": 365, "alt": 365},
            negatives=("denies myalgias", "no chest pain w/ exertion"),
            exam=("no xanthomas",),
        ),
        Condition(
            key="ckd",
            name="Chronic kidney disease, stage 3a",
            abbrev="CKD3a",
            icd10="N18.31",
            marker="uacr",
            goal=30,
            direction=-1,
            dx_range=(90, 520),
            normal=(10, 24),
            drift=12,
            ladder=_steps(
                Med("lisinopril", "10 mg", "daily"),
                Med("empagliflozin", "10 mg", "daily"),
                Med("lisinopril", "20 mg", "daily"),
            ),
            settle_days=120,
            monitor={
                "creatinine": 120,
                "egfr": 120,
                "potassium": 120,
                "bicarb": 180,
                "hgb": 180,
                "uacr": 180,
            },
            negatives=("no gross hematuria", "denies decreased UOP", "no LE swelling"),
            exam=("trace LE edema bilat", "no asterixis"),
        ),
        Condition(
            key="asthma",
            name="Asthma, moderate persistent",
            abbrev="asthma",
            icd10="J45.40",
            marker="act",
            goal=20,
            direction=1,
            dx_range=(11, 17),
            normal=(21, 25),
            drift=0.0,
            ladder=_steps(
                Med("fluticasone HFA", "110 mcg", "2 puffs BID", "inh"),
                (Med("fluticasone-salmeterol", "250/50 mcg", "1 puff BID", "inh"), "fluticasone HFA"),
                Med("montelukast", "10 mg", "qHS"),
            ),
            settle_days=56,
            monitor={"act": 0},
            fixed=(Med("albuterol HFA", "90 mcg", "2 puffs q4h PRN", "inh"),),
            complaints=(
                "wheezing w/ exertion",
                "night-time cough 2-3x/wk",
                "chest tightness in cold air",
                "using albuterol most days",
            ),
            negatives=("no nocturnal awakenings", "denies fevers", "no recent ED visits"),
            exam=("scattered end-expiratory wheezes", "lungs CTAB, no wheezes", "speaking in full sentences"),
        ),
        Condition(
            key="copd",
            name="Chronic obstructive pulmonary disease",
            abbrev="COPD",
            icd10="J44.9",
            marker="cat",
            goal=10,
            direction=-1,
            dx_range=(17, 26),
            normal=(4, 8),
            drift=0.6,
            ladder=_steps(
                Med("tiotropium", "18 mcg", "daily", "inh"),
                Med("fluticasone-salmeterol", "250/50 mcg", "1 puff BID", "inh"),
                Med("roflumilast", "500 mcg", "daily"),
            ),
            settle_days=70,
            monitor={"cat": 0},
            fixed=(Med("albuterol HFA", "90 mcg", "2 puffs q4h PRN", "inh"),),
            complaints=(
                "DOE after 1 flight of stairs",
                "chronic AM cough w/ white sputum",
                "SOB w/ exertion",
            ),
            negatives=("denies hemoptysis", "no fevers or chills", "denies change in sputum color"),
            exam=("decreased breath sounds bilat", "prolonged expiratory phase", "no accessory muscle use"),
            min_age=45,
        ),
        Condition(
            key="hf",
            name="Heart failure with reduced ejection fraction",
            abbrev="HFrEF",
            icd10="I50.22",
            marker="bnp",
            goal=300,
            direction=-1,
            dx_range=(620, 1750),
            normal=(20, 80),
            drift=40,
            ladder=_steps(
                Med("carvedilol", "3.125 mg", "BID"),
                Med("lisinopril", "5 mg", "daily"),
                Med("carvedilol", "6.25 mg", "BID"),
                Med("carvedilol", "12.5 mg", "BID"),
                Med("spironolactone", "25 mg", "daily"),
                Med("carvedilol", "25 mg", "BID"),
                Med("empagliflozin", "10 mg", "daily"),
            ),
            settle_days=42,
            monitor={"bnp": 120, "potassium": 90, "creatinine": 90, "egfr": 90, "sodium": 90},
            fixed=(Med("furosemide", "40 mg", "daily"),),
            complaints=("3-pillow orthopnea", "ankle swelling", "DOE walking 1 block", "wt up 3 lb this wk"),
            negatives=("denies PND", "no chest pain", "denies syncope", "no palpitations"),
            exam=("JVP ~8 cm", "1+ pitting edema to mid-shin", "bibasilar crackles", "no S3"),
            min_age=40,
        ),
        Condition(
            key="af",
            name="Atrial fibrillation, permanent",
            abbrev="AF",
            icd10="I48.21",
            marker="hr",
            goal=90,
            direction=-1,
            dx_range=(104, 126),
            normal=(64, 80),
            drift=0.0,
            ladder=_steps(
                Med("metoprolol succinate", "25 mg", "daily"),
                Med("metoprolol succinate", "50 mg", "daily"),
                Med("metoprolol succinate", "100 mg", "daily"),
                Med("metoprolol succinate", "200 mg", "daily"),
            ),
            settle_days=28,
            monitor={"hgb": 365, "creatinine": 180, "egfr": 180},
            fixed=(Med("apixaban", "5 mg", "BID"),),
            complaints=("intermittent palpitations", "fatigue", "mild DOE"),
            negatives=("denies bleeding", "no melena or hematuria", "denies focal weakness"),
            exam=("irregularly irregular rhythm", "no JVD"),
            min_age=45,
        ),
        Condition(
            key="hypothyroid",
            name="Hypothyroidism",
            abbrev="hypothyroidism",
            icd10="E03.9",
            marker="tsh",
            goal=4.5,
            direction=-1,
            dx_range=(7.5, 22.0),
            normal=(1.0, 3.0),
            drift=0.8,
            ladder=_steps(
                Med("levothyroxine", "50 mcg", "daily"),
                Med("levothyroxine", "75 mcg", "daily"),
                Med("levothyroxine", "88 mcg", "daily"),
                Med("levothyroxine", "100 mcg", "daily"),
                Med("levothyroxine", "112 mcg", "daily"),
                Med("levothyroxine", "125 mcg", "daily"),
            ),
            settle_days=42,
            monitor={"tsh": 365},
            complaints=("fatigue", "cold intolerance", "constipation", "dry skin"),
            negatives=("denies palpitations", "no heat intolerance", "no neck swelling"),
            exam=("thyroid nonpalpable", "no goiter", "delayed relaxation of reflexes"),
        ),
        Condition(
            key="depression",
            name="Major depressive disorder, recurrent, moderate",
            abbrev="MDD",
            icd10="F33.1",
            marker="phq9",
            goal=9,
            direction=-1,
            dx_range=(13, 20),
            normal=(1, 4),
            drift=0.0,
            ladder=_steps(
                Med("sertraline", "50 mg", "daily"),
                Med("sertraline", "100 mg", "daily"),
                Med("sertraline", "150 mg", "daily"),
                Med("sertraline", "200 mg", "daily"),
            ),
            settle_days=42,
            monitor={"phq9": 0},
            complaints=("low mood", "poor sleep", "low energy", "anhedonia", "poor concentration at work"),
            negatives=("denies SI/HI", "no psychotic sx", "denies manic sx"),
            exam=("affect constricted", "mood 'okay', affect congruent", "linear thought process"),
        ),
        Condition(
            key="gerd",
            name="Gastroesophageal reflux disease",
            abbrev="GERD",
            icd10="K21.9",
            marker=None,
            goal=None,
            direction=-1,
            dx_range=(0, 0),
            normal=(0, 0),
            drift=0.0,
            ladder=(),
            settle_days=0,
            fixed=(Med("omeprazole", "20 mg", "daily"),),
            complaints=("heartburn after meals", "sour taste in mouth at night"),
            negatives=("denies dysphagia", "no melena", "denies wt loss"),
        ),
        Condition(
            key="oa",
            name="Primary osteoarthritis of both knees",
            abbrev="knee OA",
            icd10="M17.0",
            marker=None,
            goal=None,
            direction=-1,
            dx_range=(0, 0),
            normal=(0, 0),
            drift=0.0,
            ladder=(),
            settle_days=0,
            fixed=(
                Med("acetaminophen", "650 mg", "q6h PRN"),
                Med("diclofenac 1% gel", "4 g", "QID PRN", "topical"),
            ),
            complaints=("bilat knee pain worse w/ stairs", "AM stiffness < 30 min"),
            negatives=("no knee swelling or warmth", "denies falls"),
            exam=("crepitus bilat knees", "no effusion", "antalgic gait"),
            min_age=45,
        ),
        # fmt: on
    ]
}

# How active medications move each marker. "add": shifts the value; "mult": scales it.
# Effect sizes are in line with textbook averages (e.g. metformin lowers HbA1c ~1-1.5 points,
# moderate/high-intensity statins cut LDL ~30-50%); patients' noise does the rest.
EFFECTS: dict[str, tuple[str, dict[tuple[str, str], float]]] = {
    "hba1c": (
        "add",
        {
            ("metformin", "500 mg"): -0.9,
            ("metformin", "1000 mg"): -1.4,
            ("empagliflozin", "10 mg"): -0.5,
            ("empagliflozin", "25 mg"): -0.7,
            ("insulin glargine", "10 units"): -0.7,
            ("insulin glargine", "16 units"): -1.1,
            ("insulin glargine", "24 units"): -1.6,
            ("insulin glargine", "32 units"): -2.0,
        },
    ),
    "sbp": (
        "add",
        {
            ("lisinopril", "5 mg"): -6,
            ("lisinopril", "10 mg"): -9,
            ("lisinopril", "20 mg"): -12,
            ("lisinopril", "40 mg"): -14,
            ("losartan", "50 mg"): -11,
            ("losartan", "100 mg"): -14,
            ("amlodipine", "5 mg"): -8,
            ("amlodipine", "10 mg"): -12,
            ("chlorthalidone", "12.5 mg"): -9,
            ("carvedilol", "12.5 mg"): -4,
            ("carvedilol", "25 mg"): -6,
            ("furosemide", "40 mg"): -3,
        },
    ),
    "ldl": (
        "mult",
        {
            ("atorvastatin", "20 mg"): 0.57,
            ("atorvastatin", "40 mg"): 0.51,
            ("atorvastatin", "80 mg"): 0.46,
            ("rosuvastatin", "10 mg"): 0.54,
            ("rosuvastatin", "20 mg"): 0.48,
            ("rosuvastatin", "40 mg"): 0.44,
            ("ezetimibe", "10 mg"): 0.8,
        },
    ),
    "uacr": (
        "mult",
        {
            ("lisinopril", "5 mg"): 0.8,
            ("lisinopril", "10 mg"): 0.7,
            ("lisinopril", "20 mg"): 0.6,
            ("lisinopril", "40 mg"): 0.55,
            ("losartan", "50 mg"): 0.68,
            ("losartan", "100 mg"): 0.58,
            ("empagliflozin", "10 mg"): 0.72,
            ("empagliflozin", "25 mg"): 0.72,
        },
    ),
    "act": (
        "add",
        {
            ("fluticasone HFA", "110 mcg"): 4,
            ("fluticasone-salmeterol", "250/50 mcg"): 7,
            ("montelukast", "10 mg"): 2,
        },
    ),
    "cat": (
        "add",
        {
            ("tiotropium", "18 mcg"): -5,
            ("fluticasone-salmeterol", "250/50 mcg"): -4,
            ("roflumilast", "500 mcg"): -2,
        },
    ),
    "bnp": (
        "mult",
        {
            ("carvedilol", "3.125 mg"): 0.85,
            ("carvedilol", "6.25 mg"): 0.75,
            ("carvedilol", "12.5 mg"): 0.65,
            ("carvedilol", "25 mg"): 0.55,
            ("lisinopril", "5 mg"): 0.85,
            ("lisinopril", "10 mg"): 0.8,
            ("lisinopril", "20 mg"): 0.75,
            ("lisinopril", "40 mg"): 0.72,
            ("losartan", "50 mg"): 0.8,
            ("losartan", "100 mg"): 0.75,
            ("spironolactone", "25 mg"): 0.8,
            ("empagliflozin", "10 mg"): 0.85,
            ("furosemide", "40 mg"): 0.8,
        },
    ),
    "hr": (
        "add",
        {
            ("metoprolol succinate", "25 mg"): -10,
            ("metoprolol succinate", "50 mg"): -16,
            ("metoprolol succinate", "100 mg"): -22,
            ("metoprolol succinate", "200 mg"): -27,
            ("carvedilol", "12.5 mg"): -6,
            ("carvedilol", "25 mg"): -9,
        },
    ),
    "tsh": (
        "mult",
        {
            ("levothyroxine", "50 mcg"): 0.45,
            ("levothyroxine", "75 mcg"): 0.28,
            ("levothyroxine", "88 mcg"): 0.2,
            ("levothyroxine", "100 mcg"): 0.15,
            ("levothyroxine", "112 mcg"): 0.11,
            ("levothyroxine", "125 mcg"): 0.08,
        },
    ),
    "phq9": (
        "add",
        {
            ("sertraline", "50 mg"): -5,
            ("sertraline", "100 mg"): -8,
            ("sertraline", "150 mg"): -10,
            ("sertraline", "200 mg"): -11,
        },
    ),
}

# Switches after a side effect: drug -> (what the patient reports, substitute, dose map).
INTOLERANCE: dict[str, tuple[str, str, dict[str, str]]] = {
    "lisinopril": (
        "persistent dry cough",
        "losartan",
        {"5 mg": "50 mg", "10 mg": "50 mg", "20 mg": "50 mg", "40 mg": "100 mg"},
    ),
    "atorvastatin": (
        "diffuse myalgias",
        "rosuvastatin",
        {"20 mg": "10 mg", "40 mg": "20 mg", "80 mg": "40 mg"},
    ),
}

# How likely a condition is, and in how many patients it starts before their record does.
PREVALENCE = {
    "htn": 0.55,
    "hld": 0.45,
    "dm2": 0.4,
    "hypothyroid": 0.15,
    "depression": 0.18,
    "gerd": 0.15,
    "oa": 0.15,
    "asthma": 0.1,
    "copd": 0.1,
    "ckd": 0.12,
    "af": 0.1,
    "hf": 0.07,
}
