"""Non-patient documents: short clinical guidelines and drug monographs, and the questions they answer.

The statements are standard textbook facts (ADA/ACC-AHA/KDIGO-style recommendations and US labeling);
they are summaries written for this test corpus, not clinical advice, and each says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from .render import front_matter

DISCLAIMER = (
    "Summary written for a synthetic test corpus; not clinical advice. Check current sources before use."
)


@dataclass(frozen=True)
class ReferenceDoc:
    doc_id: str
    title: str
    kind: str  # "guideline" | "monograph"
    body: str


@dataclass(frozen=True)
class ReferenceQuestion:
    question: str
    answer: str
    facts: tuple[str, ...]  # literal substrings of the document(s)
    doc_ids: tuple[str, ...]


DOCS = [
    ReferenceDoc(
        "ref-diabetes-guideline",
        "Type 2 diabetes in adults: management guideline",
        "guideline",
        """
## Diagnosis
- Diabetes is diagnosed by HbA1c >= 6.5%, fasting plasma glucose >= 126 mg/dL, 2-hour plasma glucose
  >= 200 mg/dL during a 75-g oral glucose tolerance test, or a random glucose >= 200 mg/dL with classic
  symptoms of hyperglycemia. Without unequivocal hyperglycemia, confirm with a second abnormal test.
- Prediabetes: HbA1c 5.7-6.4% or fasting glucose 100-125 mg/dL.

## Glycemic targets
- An HbA1c goal of < 7% is appropriate for many nonpregnant adults.
- A less stringent goal such as < 8% is reasonable for older adults with limited life expectancy, a history
  of severe hypoglycemia, or extensive comorbid conditions.
- Check HbA1c at least twice a year in patients who are meeting treatment goals, and quarterly in patients
  whose therapy has changed or who are not meeting glycemic goals.

## Pharmacologic therapy
- Metformin plus lifestyle management is the usual initial therapy for most adults with type 2 diabetes.
- In adults with established atherosclerotic cardiovascular disease, heart failure, or chronic kidney
  disease, add an SGLT2 inhibitor or a GLP-1 receptor agonist with proven cardiovascular or kidney benefit,
  independent of the HbA1c.
- Basal insulin: start 10 units a day or 0.1-0.2 units/kg/day, and titrate by about 2 units every 3 days
  to reach the fasting glucose target of 80-130 mg/dL.

## Complications and risk factors
- Measure urine albumin-to-creatinine ratio (UACR) and eGFR at least once a year.
- Dilated retinal exam at diagnosis, then every 1-2 years if there is no retinopathy.
- Comprehensive foot exam, including monofilament testing, at least annually.
- Blood pressure goal: < 130/80 mmHg for most people with diabetes.
- Statins: moderate-intensity statin for adults aged 40-75 years without atherosclerotic cardiovascular
  disease; high-intensity statin for those with it.

## Hypoglycemia
- Level 1: glucose < 70 mg/dL; level 2: glucose < 54 mg/dL; level 3: altered mental or physical status
  requiring assistance. Treat a conscious patient with 15-20 g of glucose and recheck in 15 minutes.

## Vaccines
- Annual influenza vaccine; pneumococcal vaccination; hepatitis B vaccination for adults with diabetes
  aged 19-59 years.
""",
    ),
    ReferenceDoc(
        "ref-hypertension-guideline",
        "Hypertension in adults: detection and management guideline",
        "guideline",
        """
## Blood pressure categories (office readings, averaged over two or more visits)
- Normal: < 120/80 mmHg.
- Elevated: systolic 120-129 mmHg and diastolic < 80 mmHg.
- Stage 1 hypertension: systolic 130-139 mmHg or diastolic 80-89 mmHg.
- Stage 2 hypertension: systolic >= 140 mmHg or diastolic >= 90 mmHg.
- Confirm the diagnosis with out-of-office readings (home or ambulatory monitoring).

## Treatment goal
- For adults with confirmed hypertension and known cardiovascular disease or a 10-year ASCVD risk of 10% or
  higher, the blood pressure target is < 130/80 mmHg; this target is also reasonable for lower-risk adults.

## Drug therapy
- First-line agents: thiazide diuretics, calcium channel blockers, and ACE inhibitors or angiotensin
  receptor blockers (ARBs).
- For stage 2 hypertension, start two first-line agents of different classes.
- Do not combine an ACE inhibitor with an ARB (or either with a direct renin inhibitor).
- ACE inhibitors or ARBs are preferred in chronic kidney disease with albuminuria and in diabetes with
  albuminuria.
- Check serum potassium and creatinine 2 to 4 weeks after starting or increasing an ACE inhibitor, ARB or
  diuretic.
- Resistant hypertension: blood pressure above goal despite three agents of different classes, including a
  diuretic, at optimal doses. Consider adding a mineralocorticoid receptor antagonist such as spironolactone.

## Lifestyle
- DASH-style eating pattern; sodium intake ideally < 1500 mg/day; potassium 3500-5000 mg/day from food.
- Weight loss if overweight; 90-150 minutes a week of aerobic exercise.
- Limit alcohol to no more than 2 drinks a day for men and 1 for women.

## Follow-up
- Reassess monthly after starting or changing therapy until the blood pressure goal is reached.
""",
    ),
    ReferenceDoc(
        "ref-ckd-dosing",
        "Chronic kidney disease: staging and drug dosing guideline",
        "guideline",
        """
## Definition and staging
- Chronic kidney disease (CKD): abnormalities of kidney structure or function present for more than 3 months.
- GFR categories (mL/min/1.73m2): G1 >= 90; G2 60-89; G3a 45-59; G3b 30-44; G4 15-29; G5 < 15.
- Albuminuria categories (UACR): A1 < 30 mg/g; A2 30-300 mg/g; A3 > 300 mg/g.
- Monitor eGFR and UACR at least once a year, more often in G3b and beyond.

## Drug dosing in CKD
- Metformin: no adjustment at eGFR >= 45. Do not start metformin at eGFR 30-44; in patients already taking
  it, reassess and reduce the dose (commonly to a maximum of 1000 mg/day). Metformin is contraindicated
  below an eGFR of 30 mL/min/1.73m2 and should be stopped.
- SGLT2 inhibitors: kidney and heart benefit persists at low eGFR; they may be started for CKD at eGFR >= 20.
  Their glucose-lowering effect is small when eGFR is below 45.
- ACE inhibitors and ARBs: a rise in serum creatinine of up to 30% after starting is expected and is not a
  reason to stop; check potassium.
- Spironolactone: avoid starting when potassium is above 5.0 mmol/L or eGFR is below 30.
- Nitrofurantoin: avoid when creatinine clearance is below 30 mL/min.
- NSAIDs: avoid in CKD G4-G5 and use with caution in earlier stages, especially combined with an ACE
  inhibitor or ARB and a diuretic.
- Apixaban: for atrial fibrillation, the dose is based on age, weight and serum creatinine together, not on
  renal function alone (see the apixaban monograph).
- Enoxaparin: at creatinine clearance below 30 mL/min, reduce the treatment dose to 1 mg/kg once daily.

## Referral
- Refer to nephrology for eGFR < 30, UACR > 300 mg/g, a sustained fall in eGFR of more than 25%, or
  hyperkalemia that persists despite treatment.
""",
    ),
    ReferenceDoc(
        "ref-metformin",
        "Metformin: drug monograph",
        "monograph",
        """
## Class and action
Biguanide. Lowers hepatic glucose production, reduces intestinal glucose absorption and improves insulin
sensitivity. Lowers HbA1c by about 1-1.5 percentage points; weight neutral; low risk of hypoglycemia alone.

## Dosing
- Immediate release: start 500 mg twice daily or 850 mg once daily with meals; increase by 500 mg weekly
  or 850 mg every 2 weeks; maximum 2550 mg/day.
- Extended release: start 500 mg once daily with the evening meal; maximum 2000 mg/day.

## Renal function
- Check eGFR before starting and at least yearly.
- Contraindicated when eGFR is below 30 mL/min/1.73m2.
- Starting metformin is not recommended when eGFR is 30-45 mL/min/1.73m2.
- If eGFR falls below 45, assess the benefit and risk of continuing; stop if eGFR falls below 30.

## Iodinated contrast
Stop metformin at the time of or before an iodinated contrast study in patients with eGFR 30-60, liver
disease, alcoholism or heart failure, or when intra-arterial contrast is given. Recheck eGFR 48 hours
after the study and restart if renal function is stable.

## Contraindications
Severe renal impairment (eGFR below 30); acute or chronic metabolic acidosis, including diabetic
ketoacidosis; hypersensitivity to metformin.

## Warnings
- Boxed warning: lactic acidosis (rare). Risk factors: renal impairment, age 65 or older, contrast studies,
  surgery, hypoxic states, excessive alcohol intake, hepatic impairment.
- Vitamin B12 deficiency with long-term use: measure B12 periodically.

## Adverse effects
Diarrhea, nausea, flatulence and abdominal discomfort are the most common; taking it with meals and
titrating slowly reduces them.
""",
    ),
    ReferenceDoc(
        "ref-apixaban",
        "Apixaban: drug monograph",
        "monograph",
        """
## Class
Oral direct factor Xa inhibitor.

## Dosing
- Nonvalvular atrial fibrillation: 5 mg twice daily.
- Reduce to 2.5 mg twice daily in patients with at least 2 of: age >= 80 years, body weight <= 60 kg,
  serum creatinine >= 1.5 mg/dL.
- Treatment of DVT or PE: 10 mg twice daily for 7 days, then 5 mg twice daily. To reduce the risk of
  recurrence after at least 6 months of treatment: 2.5 mg twice daily.
- Prophylaxis after hip or knee replacement: 2.5 mg twice daily (35 days after hip, 12 days after knee).

## Interactions
- Combined strong CYP3A4 and P-gp inhibitors (for example ketoconazole, itraconazole, ritonavir): reduce the
  dose by 50%; avoid if the patient already takes 2.5 mg twice daily.
- Combined strong CYP3A4 and P-gp inducers (rifampin, carbamazepine, phenytoin, St. John's wort): avoid.
- Other anticoagulants, antiplatelet agents and NSAIDs increase bleeding risk.

## Monitoring
No routine coagulation monitoring is needed; the INR does not reflect apixaban's effect.

## Procedures
Stop at least 48 hours before elective surgery or procedures with a moderate or high risk of bleeding, and
at least 24 hours before procedures with a low risk of bleeding.

## Switching
From warfarin: stop warfarin and start apixaban when the INR is below 2.0.

## Warnings
- Boxed warnings: premature discontinuation increases the risk of thrombotic events; spinal or epidural
  hematoma with neuraxial anesthesia.
- Reversal agent: andexanet alfa.
- Not recommended for patients with prosthetic heart valves.
- Missed dose: take it as soon as possible on the same day; do not double the next dose.
""",
    ),
    ReferenceDoc(
        "ref-lisinopril",
        "Lisinopril: drug monograph",
        "monograph",
        """
## Class
Angiotensin-converting enzyme (ACE) inhibitor.

## Dosing
- Hypertension: initial 10 mg once daily (5 mg if the patient takes a diuretic); usual 20-40 mg once daily;
  maximum 80 mg/day.
- Heart failure: initial 2.5-5 mg once daily, titrated to a maximum of 40 mg once daily.
- Renal impairment (creatinine clearance 10-30 mL/min): initial 5 mg once daily for hypertension.

## Contraindications
- History of angioedema related to previous ACE inhibitor treatment; hereditary or idiopathic angioedema.
- Use with aliskiren in patients with diabetes.
- Within 36 hours of switching to or from sacubitril/valsartan.

## Boxed warning
Fetal toxicity: stop as soon as pregnancy is detected.

## Adverse effects
Dry cough (switching to an ARB usually resolves it), dizziness, hypotension, hyperkalemia, acute kidney
injury, and angioedema (more common in Black patients).

## Monitoring
Blood pressure, serum potassium and serum creatinine, at baseline and after starting or changing the dose.

## Interactions
Potassium supplements and potassium-sparing diuretics raise the risk of hyperkalemia; NSAIDs blunt the
antihypertensive effect and raise the risk of kidney injury; lithium levels rise.
""",
    ),
    ReferenceDoc(
        "ref-levothyroxine",
        "Levothyroxine: drug monograph",
        "monograph",
        """
## Class
Synthetic thyroxine (T4).

## Dosing
- Full replacement in healthy adults: about 1.6 mcg/kg/day.
- Older adults or patients with coronary artery disease: start low, 12.5-25 mcg/day, and titrate slowly.
- Titrate in 12.5-25 mcg steps.

## Monitoring
- Recheck TSH 6-8 weeks after starting or changing the dose (steady state takes about 6 weeks because the
  half-life is about 7 days).
- Goal: TSH within the reference range (about 0.4-4.5 mIU/L) for most patients.

## Administration
Take on an empty stomach with water, 30-60 minutes before breakfast. Separate from calcium, iron, antacids
and bile acid sequestrants by at least 4 hours.

## Warnings
- Boxed warning: not for the treatment of obesity or for weight loss.
- Overtreatment can cause atrial fibrillation and bone loss, especially in older adults.
- Pregnancy: requirements rise by about 25-50%; check TSH every 4 weeks in the first half of pregnancy.
- Narrow therapeutic index: small changes in dose or product matter.
""",
    ),
    ReferenceDoc(
        "ref-warfarin",
        "Warfarin: drug monograph",
        "monograph",
        """
## Class
Vitamin K antagonist.

## Targets
- INR goal 2.0-3.0 for atrial fibrillation and venous thromboembolism.
- INR goal 2.5-3.5 for a mechanical mitral valve.

## Dosing and monitoring
- Usual starting dose 2-5 mg daily (lower in older adults), adjusted to the INR.
- Dose changes are usually 5-20% of the weekly dose.
- Check the INR every few days at first, then up to every 4 weeks once stable.

## High INR
- INR above range but below 4.5 without bleeding: lower or omit a dose.
- INR 4.5-10 without bleeding: hold 1-2 doses; routine vitamin K is not recommended.
- INR above 10 without bleeding: hold warfarin and give oral vitamin K.
- Major bleeding: hold warfarin and give 4-factor prothrombin complex concentrate plus intravenous vitamin K
  5-10 mg.

## Interactions
Many. INR rises with amiodarone, fluconazole, metronidazole, trimethoprim-sulfamethoxazole and
ciprofloxacin; it falls with rifampin and carbamazepine. Keep vitamin K intake from food consistent.

## Warnings
Bleeding (boxed warning), skin necrosis, purple toe syndrome; contraindicated in pregnancy except in some
women with mechanical heart valves.
""",
    ),
]

QUESTIONS = [
    ReferenceQuestion(
        "Below what eGFR is metformin contraindicated?",
        "Below an eGFR of 30 mL/min/1.73m2.",
        ("eGFR is below 30 mL/min/1.73m2",),
        ("ref-metformin",),
    ),
    ReferenceQuestion(
        "Can metformin be started in a patient whose eGFR is 38?",
        "No: starting metformin is not recommended at eGFR 30-45.",
        ("not recommended when eGFR is 30-45",),
        ("ref-metformin",),
    ),
    ReferenceQuestion(
        "When should apixaban be reduced to 2.5 mg twice daily for atrial fibrillation?",
        "With at least 2 of: age >= 80 years, body weight <= 60 kg, serum creatinine >= 1.5 mg/dL.",
        ("2.5 mg twice daily", "age >= 80 years", "body weight <= 60 kg", "serum creatinine >= 1.5 mg/dL"),
        ("ref-apixaban",),
    ),
    ReferenceQuestion(
        "How long before a high-bleeding-risk surgery should apixaban be held?",
        "At least 48 hours.",
        ("at least 48 hours",),
        ("ref-apixaban",),
    ),
    ReferenceQuestion(
        "What HbA1c goal is appropriate for most nonpregnant adults with type 2 diabetes?",
        "Less than 7%.",
        ("< 7%",),
        ("ref-diabetes-guideline",),
    ),
    ReferenceQuestion(
        "How often should HbA1c be checked when a diabetic patient's therapy has just changed?",
        "Quarterly.",
        ("quarterly",),
        ("ref-diabetes-guideline",),
    ),
    ReferenceQuestion(
        "What blood pressure range defines stage 2 hypertension?",
        "Systolic >= 140 mmHg or diastolic >= 90 mmHg.",
        ("systolic >= 140 mmHg or diastolic >= 90 mmHg",),
        ("ref-hypertension-guideline",),
    ),
    ReferenceQuestion(
        "Is it reasonable to combine lisinopril with losartan for blood pressure?",
        "No: do not combine an ACE inhibitor with an ARB.",
        ("Do not combine an ACE inhibitor with an ARB",),
        ("ref-hypertension-guideline",),
    ),
    ReferenceQuestion(
        "What is the usual starting dose of lisinopril for hypertension?",
        "10 mg once daily (5 mg if on a diuretic).",
        ("initial 10 mg once daily",),
        ("ref-lisinopril",),
    ),
    ReferenceQuestion(
        "A patient on lisinopril has a persistent dry cough. What is the usual fix?",
        "Switch to an ARB.",
        ("Dry cough", "switching to an ARB"),
        ("ref-lisinopril",),
    ),
    ReferenceQuestion(
        "How soon after a levothyroxine dose change should TSH be rechecked?",
        "6-8 weeks.",
        ("6-8 weeks",),
        ("ref-levothyroxine",),
    ),
    ReferenceQuestion(
        "What eGFR range defines CKD stage G3b?", "30-44 mL/min/1.73m2.", ("G3b 30-44",), ("ref-ckd-dosing",)
    ),
    ReferenceQuestion(
        "What INR range is targeted for warfarin in atrial fibrillation?",
        "2.0-3.0.",
        ("INR goal 2.0-3.0",),
        ("ref-warfarin",),
    ),
    ReferenceQuestion(
        "What is the maximum daily dose of metformin for a patient with eGFR 40 already on it?",
        "Reduce, commonly to a maximum of 1000 mg/day.",
        ("maximum of 1000 mg/day",),
        ("ref-ckd-dosing",),
    ),
]


def render(doc: ReferenceDoc) -> str:
    """Markdown with the same front matter style as patient histories."""
    meta = {"doc_id": doc.doc_id, "title": doc.title, "kind": doc.kind}
    return front_matter(meta) + f"\n# {doc.title}\n\n{DISCLAIMER}\n" + doc.body
