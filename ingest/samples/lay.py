"""Reference questions in the asker's own words: "the blood thinner", "sugar", "the thyroid pill".

The other question types reuse the documents' own terms (drug names, ICD labels, lab names), as a
question generated from a record does. People do not: a clinician, a patient's relative or an analyst
asks about "the twice-a-day blood thinner" or "a low sugar". These questions keep the reference
documents' facts but avoid their key terms, so they test what lexical search cannot do by itself.
They were written once, before any ranker was run on them, and are not tuned to any ranker.
"""

from __future__ import annotations

from .reference import ReferenceQuestion

QUESTIONS = [
    ReferenceQuestion(
        "How long before an operation with a high chance of bleeding should a patient stop the twice-a-day "
        "blood thinner that needs no routine blood tests?",
        "At least 48 hours before (24 hours when the bleeding risk is low).",
        ("Stop at least 48 hours before elective surgery",),
        ("ref-apixaban",),
    ),
    ReferenceQuestion(
        "A patient on the old-style blood thinner has a clotting number of 6 and no bleeding: what should "
        "be done?",
        "Hold 1-2 doses; routine vitamin K is not recommended.",
        ("INR 4.5-10 without bleeding: hold 1-2 doses",),
        ("ref-warfarin",),
    ),
    ReferenceQuestion(
        "Which antibiotics push up the clotting number of someone on the old-style blood thinner?",
        "Metronidazole, trimethoprim-sulfamethoxazole and ciprofloxacin (also fluconazole and amiodarone).",
        ("metronidazole, trimethoprim-sulfamethoxazole",),
        ("ref-warfarin",),
    ),
    ReferenceQuestion(
        "What is usually the first medicine for an adult newly found to have high blood sugar?",
        "Metformin, together with lifestyle management.",
        ("Metformin plus lifestyle management is the usual initial therapy",),
        ("ref-diabetes-guideline",),
    ),
    ReferenceQuestion(
        "How low does sugar have to drop before it counts as a clinically significant low?",
        "Below 54 mg/dL (level 2).",
        ("level 2: glucose < 54 mg/dL",),
        ("ref-diabetes-guideline",),
    ),
    ReferenceQuestion(
        "Which pressure pill is known for a nagging dry cough, and what usually fixes it?",
        "Lisinopril (an ACE inhibitor); switching to an ARB usually resolves the cough.",
        ("Dry cough (switching to an ARB usually resolves it)",),
        ("ref-lisinopril",),
    ),
    ReferenceQuestion(
        "How many weeks after a change in the thyroid tablet dose should the blood test be repeated?",
        "6-8 weeks (steady state takes about 6 weeks).",
        ("Recheck TSH 6-8 weeks after starting or changing the dose",),
        ("ref-levothyroxine",),
    ),
    ReferenceQuestion(
        "Can the thyroid hormone tablet be taken together with breakfast?",
        "No: on an empty stomach with water, 30-60 minutes before breakfast.",
        ("30-60 minutes before breakfast",),
        ("ref-levothyroxine",),
    ),
    ReferenceQuestion(
        "At what level of kidney filtering should a kidney specialist be brought in?",
        "When eGFR is below 30 (also UACR > 300 mg/g or a sustained fall of more than 25%).",
        ("Refer to nephrology for eGFR < 30",),
        ("ref-ckd-dosing",),
    ),
    ReferenceQuestion(
        "How much salt a day should someone with high blood pressure aim for?",
        "Ideally under 1,500 mg of sodium a day.",
        ("sodium intake ideally < 1500 mg/day",),
        ("ref-hypertension-guideline",),
    ),
    ReferenceQuestion(
        "Before a scan with dye injected, what should happen to the sugar tablet of a patient with weak "
        "kidneys?",
        "Stop it at or before the study; recheck kidney function 48 hours later and restart if stable.",
        ("Stop metformin at the time of or before an iodinated contrast study",),
        ("ref-metformin",),
    ),
    ReferenceQuestion(
        "Which stomach upsets are common with the usual first diabetes tablet, and how can they be eased?",
        "Diarrhea, nausea, flatulence and abdominal discomfort; take it with meals and titrate slowly.",
        ("Diarrhea, nausea, flatulence and abdominal discomfort",),
        ("ref-metformin",),
    ),
]
