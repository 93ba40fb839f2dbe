"""The insurance glossary: the policy terms for a question's lay words ("before my coverage kicks in" →
deductible), added to the keyword ranking's query so a clause written in the policy's vocabulary is found
from a question in a user's own words.

Entries follow the vocabulary of the NAIC consumer glossary, HealthCare.gov's glossary and the ISO forms'
defined terms (homeowners, personal auto, commercial general liability). Each entry is (lay phrasings,
policy terms, why it exists): the phrasings are regular expressions matched on word boundaries in the
lower-cased question, the terms are phrases searched as phrases. An entry exists only when people ask in
words the policy does not use; a word both use ("flood") needs no entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class GlossaryEntry:
    phrasings: tuple[str, ...]
    terms: tuple[str, ...]
    reason: str


def _entry(phrasings: str, terms: str, reason: str) -> GlossaryEntry:
    """``phrasings`` and ``terms`` separated by "|"."""
    return GlossaryEntry(tuple(phrasings.split("|")), tuple(terms.split("|")), reason)


GLOSSARY: tuple[GlossaryEntry, ...] = (
    # --- What the insured pays ------------------------------------------------------------------------------
    _entry(
        r"before (my |the )?(coverage|insurance|plan|policy) (kicks|starts|begins|pays|applies)"
        r"|before (they|the insurer|insurance) pays?|pay first|out of my own pocket first|first \$?[0-9,]+ of",
        "deductible",
        "The deductible is what the insured pays before the plan pays; people describe it by when cover starts.",
    ),
    _entry(
        r"most (i|we|you)('d| would| will| could)? (have to )?(pay|spend)|max(imum)? (i|we) (pay|spend)"
        r"|cap on (what|how much) (i|we) pay|worst case.{0,20}(pay|cost)|pay in a (year|plan year)",
        "out-of-pocket limit|out-of-pocket maximum|maximum out-of-pocket",
        "HealthCare.gov: the out-of-pocket maximum/limit is the most you pay in a plan year.",
    ),
    _entry(
        r"flat fee|fixed (fee|amount) (for|per|at) (a |each )?(visit|doctor|prescription)|pay at the (doctor|visit)",
        "copayment|copay",
        "A copayment is a fixed amount per covered service; users call it a fee.",
    ),
    _entry(
        r"percent(age)? (i|we) pay|share of the (cost|bill)|split the (cost|bill)|my (part|share) of the (cost|bill)",
        "coinsurance",
        "Coinsurance is the insured's percentage share of costs after the deductible.",
    ),
    _entry(
        r"how much (does|do|will) (it|the policy|this|my (insurance|plan|policy)) cost|monthly (payment|bill)"
        r"|what (do|will) i pay (each|every|per) (month|year)|price of (the |my )?(policy|insurance|plan)",
        "premium|total premium",
        "The premium is the price of the policy; users ask about the cost or the monthly payment.",
    ),
    _entry(
        r"(most|max(imum)?|highest|biggest|how much) (they|the insurer|insurance|the policy|it) (will"
        r"|would)? ?(pay|cover)"
        r"|how much (am i|is it|are we) covered (for|up to)|up to how much|coverage amount",
        "limit of insurance|limit of liability|limits of liability|policy limit|each occurrence limit",
        "The limit is the most the insurer pays; policies say 'limit of insurance' or 'limit of liability'.",
    ),
    _entry(
        r"(total|lifetime|yearly|annual) (cap|max(imum)?)|most they pay (in total|overall|altogether)",
        "aggregate limit|general aggregate limit|annual limit",
        "An aggregate limit caps all payments in a period; users say 'total cap'.",
    ),
    # --- What is not covered ---------------------------------------------------------------------------
    _entry(
        r"(not|isn't|aren't|never|won't be) covered|what (is|isn't|does not|doesn't) (get )?covered"
        r"|what (they|the policy|it) (won't|will not|doesn't|does not) (pay|cover)|left out|excluded",
        "exclusions|we do not insure|we do not cover|does not apply",
        "Exclusions are what the policy does not cover; forms phrase them as 'we do not insure'.",
    ),
    _entry(
        r"(condition|illness|problem|disease) (i|we) (already )?had before|already (sick|ill|had)|existing condition",
        "pre-existing condition|preexisting condition",
        "HealthCare.gov: a pre-existing condition is a health problem before the coverage starts.",
    ),
    _entry(
        r"(have to|must|need to) wait|waiting time|how long before (i'?m|we're|it's) covered|when does coverage start",
        "waiting period|effective date",
        "A waiting period is the time before certain coverage begins.",
    ),
    # --- The house ------------------------------------------------------------------------------------
    _entry(
        r"(house|home|place|property|building)( [a-z']+){0,2} (empty|vacant|unoccupied|unlived)"
        r"|(nobody|no one|no-one) (is )?(living|lives|stays|staying) (there|in (it|the house|my house))"
        r"|(away|gone|travel(l)?ing) for (months|a long time|weeks)|left (my|the) (house|home) (empty|vacant)",
        "vacancy|vacant|unoccupied|vacancy provision",
        "Policies limit cover for a dwelling vacant or unoccupied for 60 days; users say 'left empty'.",
    ),
    _entry(
        r"(my|the) (house|home)('s)? (structure|building|walls)|rebuild (my|the) (house|home)|the house itself",
        "dwelling|coverage a|dwelling coverage",
        "Coverage A is the dwelling; users call it the house.",
    ),
    _entry(
        r"(shed|garage|fence|barn|detached)",
        "other structures|coverage b",
        "Coverage B insures other structures on the residence premises: sheds, detached garages, fences.",
    ),
    _entry(
        r"(my )?(stuff|belongings|possessions|furniture|clothes|electronics)",
        "personal property|coverage c|contents",
        "Coverage C is personal property; users say stuff or belongings.",
    ),
    _entry(
        r"(hotel|somewhere (else )?to (stay|live)|can't live (there|in)|cannot live (there|in)|stay elsewhere"
        r"|while (it'?s|the house is) (being )?(repaired|rebuilt|fixed))",
        "additional living expense|loss of use|coverage d|fair rental value",
        "Coverage D pays additional living expense when the home is unfit to live in.",
    ),
    _entry(
        r"(replace|replacing|new one|brand new|full (cost|price|value)|what it costs? (now|today|to replace))",
        "replacement cost",
        "Replacement cost pays to replace without deduction for depreciation.",
    ),
    _entry(
        r"(depreciat|wear and tear|(old|used) value|what it('s| was| is) worth|value (of|at) the time)",
        "actual cash value|depreciation",
        "Actual cash value is replacement cost minus depreciation; users ask what a thing was worth.",
    ),
    _entry(
        r"(pipe|pipes) (burst|froze|frozen|leak)|burst pipe|water (heater|tank) (broke|burst|leak)|leak(ing"
        r"|ed)? (pipe|roof)",
        "sudden and accidental discharge|overflow of water or steam|freezing of a plumbing",
        "Named perils for plumbing water are phrased as 'accidental discharge or overflow of water or steam'.",
    ),
    _entry(
        r"water damage|water (came|got|coming) in|flooded|flooding|water in (the|my) basement",
        "water damage|flood|surface water|water backup|sump",
        "Water is split in forms into flood, surface water, backup and discharge, each with its own rule.",
    ),
    _entry(
        r"(sewer|drain|toilet) (backed|back(ed)? up|overflow)|backup of (the )?(sewer|drain)",
        "water backup|sewer or drain|water back up and sump discharge",
        "Backup of sewers or drains is excluded unless endorsed (ISO HO 04 95).",
    ),
    _entry(
        r"earthquake|quake|ground (shook|shaking|moved|movement)|sinkhole|landslide|mudslide",
        "earth movement|earthquake",
        "Forms exclude 'earth movement'; users name the event.",
    ),
    _entry(
        r"mold|mould|mildew|fungus",
        "fungi|wet or dry rot|bacteria",
        "Forms call mold 'fungi, wet or dry rot, or bacteria'.",
    ),
    _entry(
        r"(storm|hurricane|tornado|wind) (damage|blew|tore|ripped)|tree fell|roof (blew|ripped|torn)",
        "windstorm or hail|windstorm|hail|falling objects",
        "Wind damage is the named peril 'windstorm or hail'; a fallen tree is 'falling objects'.",
    ),
    _entry(
        r"lightning|power surge|electrical surge",
        "lightning|artificially generated electrical current",
        "Surge damage is 'sudden and accidental damage from artificially generated electrical current'.",
    ),
    _entry(
        r"\bfire\b|burn(ed|t)? down|caught fire|smoke",
        "fire or lightning|smoke",
        "Fire is the peril 'fire or lightning'; smoke damage is its own peril.",
    ),
    _entry(
        r"\b(broke|broken) into|burglar|break-in|break in|robbed|robbery|stolen|stole|steal|theft",
        "theft|burglary|attempted theft",
        "Forms cover 'theft, including attempted theft'; users say stolen or broken into.",
    ),
    _entry(
        r"vandal|graffiti|smashed|keyed (my|the) car|on purpose damage|(damaged|broke) on purpose",
        "vandalism or malicious mischief|vandalism|malicious mischief",
        "The peril is 'vandalism or malicious mischief'.",
    ),
    _entry(
        r"jewel(le)?ry|ring|watch(es)?|furs?|silverware|guns?|firearms?|collectibles?|art(work)?",
        "special limits of liability|scheduled personal property|jewelry, watches and furs",
        "Homeowners forms cap theft of jewelry, watches, furs and firearms under 'special limits of liability'.",
    ),
    _entry(
        r"home (business|office)|work from home|run a business (from|out of)",
        "business property|business pursuits|home business",
        "Business property and pursuits are limited or excluded on homeowners forms.",
    ),
    _entry(
        r"rent(ing)? (it|my (house|home|place)) out|airbnb|tenants?|landlord",
        "rental|held for rental|rented to others|fair rental value",
        "Property rented to others is limited; the policy speaks of 'rented or held for rental'.",
    ),
    _entry(
        r"(code|law) (requires|says|upgrade)|bring (it|the house) up to code|building code",
        "ordinance or law",
        "Ordinance or law coverage pays for code-required upgrades after a loss.",
    ),
    _entry(
        r"mortgage|(the )?bank('s)? (interest|name)|lender",
        "mortgagee|mortgage clause|loss payee",
        "The mortgage clause names the lender (mortgagee) as payee.",
    ),
    # --- Liability ------------------------------------------------------------------------------------
    _entry(
        r"(someone|somebody|a guest|a visitor|my neighbou?r|a friend) (gets |got )?(hurt|injured|slip|slipped"
        r"|fell|falls|sues?)"
        r"|(sue|sued|sues|suing) me|lawsuit|if i('m| am) sued|my fault",
        "personal liability|coverage e|bodily injury|liability|suit",
        "Coverage E is personal liability for bodily injury to others; users say someone got hurt or sued me.",
    ),
    _entry(
        r"(guest|visitor|neighbou?r|someone)('s)? (medical|doctor|hospital) (bills?|costs?)|hurt at my (house|home)",
        "medical payments to others|coverage f|medical payments",
        "Coverage F pays others' medical bills regardless of fault.",
    ),
    _entry(
        r"(dog|pet|animal) (bit|bites|bite|attacked)|dog bite",
        "animal liability|bodily injury|personal liability",
        "Dog bites are bodily injury claims under personal liability, sometimes excluded by endorsement.",
    ),
    _entry(
        r"(damage(d)?|broke|break) (someone else's|someone's|their|other people's|a neighbou?r's) (property|car"
        r"|stuff|things)",
        "property damage|damage to property of others",
        "'Property damage' is damage to others' property; 'damage to property of others' is its own coverage.",
    ),
    _entry(
        r"extra (liability|coverage) on top|more liability|excess (liability|coverage)|umbrella",
        "umbrella|excess liability|personal umbrella|underlying insurance",
        "An umbrella policy is excess liability above the underlying policies.",
    ),
    _entry(
        r"lawyer|attorney|legal (fees|costs|defen[cs]e)|defend me|court costs",
        "defense costs|supplementary payments|duty to defend|defend any suit",
        "The insurer's duty to defend and 'supplementary payments' cover legal costs.",
    ),
    _entry(
        r"libel|slander|defam|false arrest|invasion of privacy",
        "personal and advertising injury|personal injury",
        "CGL Coverage B is 'personal and advertising injury'.",
    ),
    _entry(
        r"(customer|client|someone) (hurt|injured) (at|in) (my|our) (shop|store|business|office)|slip and fall",
        "bodily injury|premises|commercial general liability|occurrence",
        "Injury on business premises is bodily injury under commercial general liability.",
    ),
    _entry(
        r"(product|something we (sold|made)) (hurt|injured|caused)|defective product|faulty work",
        "products-completed operations|products-completed operations hazard|your product|your work",
        "CGL defines 'products-completed operations hazard', 'your product' and 'your work'.",
    ),
    _entry(
        r"(employee|worker|staff) (hurt|injured)|hurt on the job|injured at work|work injury",
        "workers compensation|employers liability|employee",
        "Injury to employees belongs to workers compensation and employers liability, excluded from CGL.",
    ),
    _entry(
        r"(one|single|each) (accident|incident|event)|per (accident|incident|event)",
        "occurrence|each occurrence|per occurrence",
        "Policies define 'occurrence' as an accident; limits apply per occurrence.",
    ),
    _entry(
        r"on purpose|intentional(ly)?|deliberate(ly)?|meant to",
        "expected or intended injury|intentional loss|intentional act",
        "Losses the insured expected or intended are excluded.",
    ),
    # --- Who and where --------------------------------------------------------------------------------
    _entry(
        r"who (is|are|else is|gets) (covered|insured|protected)|(my )?(family|spouse|wife|husband|kids|children"
        r"|roommate) covered"
        r"|covered under my policy|am i covered|is my (son|daughter|teen|teenager)",
        "insured|named insured|you and your|resident of your household|family member|who is an insured",
        "The 'Who Is An Insured' section and the definitions of 'insured' and 'named insured' answer it.",
    ),
    _entry(
        r"(my|the) (house|home|address|property|land|yard) (where|that) i live|where i live",
        "residence premises|insured location|described location",
        "The insured place is the 'residence premises' or 'insured location'.",
    ),
    _entry(
        r"(somebody|someone|a friend|my (son|daughter|kid|teen)) (else )?(drives|driving|borrows|borrowed"
        r"|uses) (my|the) car",
        "permissive use|any person using your covered auto|insured|family member",
        "Cover of other drivers is through who is an insured: 'any person using your covered auto'.",
    ),
    _entry(
        r"(outside|out of) (the )?(us|u\.s\.|country|state)|abroad|overseas|canada|mexico|travel(ing"
        r"|ling)? (abroad|overseas)",
        "policy territory|coverage territory",
        "'Policy territory' or 'coverage territory' says where cover applies.",
    ),
    _entry(
        r"(how long|when|what dates?) (does|is) (the |my )?(policy|coverage|insurance) (last|valid|good|in effect)"
        r"|when does (it|my policy|the policy|coverage) (end|expire|renew)|start date|end date",
        "policy period|effective date|expiration date|renewal",
        "The policy period runs from the effective date to the expiration date on the declarations.",
    ),
    # --- Cancellation, claims, paperwork --------------------------------------------------------------
    _entry(
        r"cancel|cancell?ing|quit (the|my) (policy|insurance)|drop (my|the) (policy|coverage)|stop (my"
        r"|the) (policy|insurance)"
        r"|(end|terminate) (my|the) (policy|coverage)",
        "cancellation|cancel this policy|nonrenewal|notice of cancellation|refund of premium",
        "The Cancellation condition sets notice days and premium refund; users say cancel or drop.",
    ),
    _entry(
        r"(not|won't|refuse to) renew|renewal (refused|denied)|drop(ped)? me",
        "nonrenewal|nonrenew|renewal",
        "Nonrenewal is the insurer declining to renew, with its own notice rule.",
    ),
    _entry(
        r"(file|make|report|open|submit) a claim|how (do|to) (i )?claim|what (do|should) i do (after|if|when)"
        r"|report (a|the) (loss|damage|accident)",
        "duties after loss|notice of loss|proof of loss|duties in the event of occurrence|prompt notice",
        "The claim steps are the 'Duties After Loss' condition: prompt notice, proof of loss.",
    ),
    _entry(
        r"how (soon|long|quickly) (must|do|should) i (tell|report|notify|file)|deadline (to|for) (report|claim|file)",
        "prompt notice|within 60 days|proof of loss|notice of loss",
        "Reporting deadlines sit in the duties after loss and proof of loss conditions.",
    ),
    _entry(
        r"(disagree|dispute|argue) (about|on|with) (the )?(amount|value|payment|price)|lowball"
        r"|not enough (money|payment)",
        "appraisal|mediation|dispute",
        "Disagreements on the amount of loss go to the Appraisal condition.",
    ),
    _entry(
        r"(they|insurer|company) (sue|go after) the (other|person who)|get (my|the) money back from",
        "subrogation|transfer of rights of recovery|our right to recover payment",
        "Subrogation is the insurer's right to recover from a responsible third party.",
    ),
    _entry(
        r"lie|lied|lying|misrepresent|false (information|statement)|fraud",
        "concealment or fraud|misrepresentation|fraud",
        "The 'Concealment or Fraud' condition voids cover for misrepresentation.",
    ),
    _entry(
        r"(add|change|extra) (to|on) (my|the) policy|add-on|add on|rider|amendment",
        "endorsement|amendatory endorsement|this endorsement changes the policy",
        "Changes to a policy are endorsements ('This endorsement changes the policy').",
    ),
    _entry(
        r"summary page|front page|(first|cover) page|(policy|coverage) (summary|details)",
        "declarations|declarations page",
        "The declarations page summarizes the named insured, limits, premium and period.",
    ),
    _entry(
        r"(two|another|more than one|other) (insurance|policies|insurers?)|also (have|has) (insurance|coverage)",
        "other insurance|coordination of benefits|excess|pro rata",
        "The 'Other Insurance' condition (health: coordination of benefits) decides who pays first.",
    ),
    _entry(
        r"grace period|pay (my )?(premium|bill) late|missed (a )?payment|late payment",
        "grace period|nonpayment of premium|nonpayment",
        "Missed premiums are 'nonpayment of premium' with a grace period.",
    ),
    _entry(
        r"(ask|complain|appeal) (about|against) (a )?(denial|denied)|denied (my )?claim|claim (was )?(denied|rejected)",
        "appeal|internal appeal|external review|claim denial",
        "HealthCare.gov: a denied claim is appealed (internal appeal, external review).",
    ),
    # --- Auto -----------------------------------------------------------------------------------------
    _entry(
        r"(car|vehicle|truck) (got |was |gets )?(hit|crash(ed)?|wreck(ed)?|totall?ed|dent(ed)?|smashed|damaged)"
        r"|(crash|accident|wreck|fender bender|collided|collision)( damage)?( to)? (my|the) (car|vehicle)"
        r"|(crashed|ran|drove|backed|smashed|slammed) into (my|our|the) (car|vehicle|truck)"
        r"|hit (a|another|the) (car|pole|tree|wall|guardrail)|rear-?ended|damage to my (car|vehicle)",
        "collision|coverage for damage to your auto|physical damage|upset",
        "Damage to the insured's own car from a crash is 'collision' (Part D, damage to your auto).",
    ),
    _entry(
        r"(car|vehicle) (stolen|broken into|flooded|vandali[sz]ed)|hit (a|an) (deer|animal)|hail (on"
        r"|damage to) (my )?car"
        r"|(windshield|glass) (crack|broke|chip)|cracked windshield",
        "other than collision|comprehensive|glass breakage|contact with bird or animal",
        "Non-crash damage to a car (theft, hail, deer, glass) is 'other than collision' or comprehensive.",
    ),
    _entry(
        r"rental car|rent(ed|ing)? a car|loaner|car while (mine|my car|it) is (in the shop|being repaired"
        r"|fixed)|substitute car",
        "transportation expenses|rental reimbursement|temporary substitute auto",
        "Part D 'Transportation Expenses' pays for a rental while the car is out of use.",
    ),
    _entry(
        r"tow(ing|ed)?|road ?side|break(s)? down|broke down|flat tire|jump start|locked out",
        "towing and labor|towing|roadside assistance",
        "Towing and labor costs coverage; users say roadside or towing.",
    ),
    _entry(
        r"(other|at-fault) (driver|person|guy) (has|had) no insurance|uninsured|hit and run|hit-and-run|no insurance",
        "uninsured motorists|uninsured motor vehicle|underinsured motorists",
        "Part C 'Uninsured Motorists' covers injury by uninsured or hit-and-run drivers.",
    ),
    _entry(
        r"(not enough|too little|minimum) insurance|(their|the other driver's) insurance (is not|isn't) enough",
        "underinsured motorists|underinsured motor vehicle",
        "Underinsured motorists coverage pays when the other driver's limits are too low.",
    ),
    _entry(
        r"(i|we) (hit|crashed into|rear-?ended|damaged) (someone|somebody|another car|a car|their car)"
        r"|i caused (an|the) accident"
        r"|my fault (accident|crash)|(other|their) (car|driver|passengers?) (damage|hurt|injured)",
        "liability coverage|bodily injury|property damage|part a",
        "Damage the insured driver causes to others is Part A liability (bodily injury and property damage).",
    ),
    _entry(
        r"(my|our) (medical|doctor|hospital) (bills?|costs?) (after|from) (a|the|an) (crash|accident|wreck)",
        "medical payments coverage|personal injury protection|part b",
        "Own medical bills after a car accident are medical payments (Part B) or PIP.",
    ),
    _entry(
        r"new car|(bought|buy|got|replaced) (a|another) (car|vehicle)|second car|newly (bought|acquired)",
        "newly acquired auto|your covered auto",
        "A newly acquired auto is covered for a period if reported; 'your covered auto' is defined.",
    ),
    _entry(
        r"uber|lyft|doordash|delivery (driver|job)|rideshare|ride-?share|drive for (money|work)"
        r"|carrying (passengers|people) for",
        "public or livery conveyance|transportation network|business use|for a fee",
        "Driving for hire is excluded as 'public or livery conveyance' unless endorsed.",
    ),
    _entry(
        r"(car|vehicle) (is )?(worth|value)|total(led)? loss|totaled|written off",
        "actual cash value|total loss|limit of liability",
        "A totaled car is paid at actual cash value.",
    ),
    _entry(
        r"custom (parts|equipment|stereo|wheels)|aftermarket|modifications",
        "custom equipment|customizing equipment|electronic equipment",
        "Custom or aftermarket equipment is limited or excluded under physical damage.",
    ),
    _entry(
        r"trailer|motorcycle|motorbike|moped|atv|golf cart|boat|jet ?ski|snowmobile",
        "motorized land vehicle|watercraft|trailer|recreational vehicle",
        "Motorized vehicles and watercraft are defined terms with their own exclusions.",
    ),
    # --- Health ---------------------------------------------------------------------------------------
    _entry(
        r"\ber\b|emergency room|a&e|urgent ?care|went to the hospital (suddenly|at night)",
        "emergency room|emergency medical condition|emergency services|urgent care",
        "HealthCare.gov: emergency room care and urgent care are separate benefits.",
    ),
    _entry(
        r"ambulance|paramedic|air ambulance",
        "emergency medical transportation|ambulance",
        "Benefit summaries list 'emergency medical transportation'.",
    ),
    _entry(
        r"specialist|cardiologist|dermatologist|orthopedi|neurologist|see a (doctor|physician) for (my"
        r"|a) (heart|skin|back)",
        "specialist visit|specialist|referral",
        "Summaries of benefits price 'specialist visit' separately from primary care.",
    ),
    _entry(
        r"(regular|family|normal|usual) doctor|check-?up|annual physical|gp|doctor visit|doctor's (visit|office)",
        "primary care visit|primary care physician|preventive care|office visit",
        "Summaries of benefits list 'primary care visit to treat an injury or illness'.",
    ),
    _entry(
        r"(medicine|medication|pills|prescriptions?|drugs?)( cost| price| coverage| covered)?|pharmacy|generic"
        r"|brand[- ]name",
        "prescription drugs|drug tiers|generic drugs|preferred brand drugs|non-preferred brand drugs"
        "|specialty drugs|formulary",
        "HealthCare.gov: prescription drug coverage is by tier (generic, preferred brand, specialty) on a formulary.",
    ),
    _entry(
        r"in[- ]network|(doctors?|hospitals?|providers?) (in|on) (the|my) (plan|list|network)|covered doctors",
        "in-network|network provider|preferred provider|participating provider",
        "HealthCare.gov: in-network providers contract with the plan; costs differ out of network.",
    ),
    _entry(
        r"out[- ]of[- ]network|doctor (not|isn't) (in|on) (the|my) (plan|list|network)|non-?network",
        "out-of-network|non-network provider|non-participating provider|balance billing",
        "Out-of-network providers cost more and may balance bill.",
    ),
    _entry(
        r"(need|get|have) (permission|approval|ok|okay) (first|before)|approved (first|beforehand|in advance)",
        "preauthorization|prior authorization|precertification|pre-approval",
        "HealthCare.gov: preauthorization is the plan's approval before a service.",
    ),
    _entry(
        r"(need|get|have) a referral|(have to|must) see my (primary|regular) doctor first",
        "referral|primary care physician",
        "Some plans require a referral from the PCP before a specialist.",
    ),
    _entry(
        r"pregnan|baby|giving birth|deliver(y|ing) (a|the|my) baby|maternity|prenatal",
        "maternity care|childbirth|delivery|prenatal and postnatal care",
        "Benefit summaries list 'if you are pregnant': prenatal, delivery and facility services.",
    ),
    _entry(
        r"therapist|therapy|counsel(l)?ing|depression|anxiety|mental health|psychiatr|rehab|addiction",
        "mental health|behavioral health|substance use disorder|rehabilitation services",
        "Summaries of benefits group these as 'mental health, behavioral health, or substance abuse services'.",
    ),
    _entry(
        r"surgery|outpatient procedure|same-day surgery",
        "outpatient surgery|ambulatory surgical center|facility fee|surgeon fees",
        "Outpatient surgery bills a facility fee and the surgeon's fee.",
    ),
    _entry(
        r"stay in (the )?hospital|admitted|overnight (in|at) (the )?hospital|hospital stay",
        "hospital stay|inpatient|hospitalization|facility fee",
        "An inpatient hospital stay has its own cost-sharing line.",
    ),
    _entry(
        r"x-?ray|mri|ct scan|blood (test|work)|lab (test|work)|scan",
        "diagnostic test|imaging|laboratory|lab work",
        "Summaries list 'diagnostic test (x-ray, blood work)' and 'imaging (CT/PET scans, MRIs)'.",
    ),
    _entry(
        r"glasses|contacts|eye (exam|doctor)|vision",
        "vision|eye exam|eyeglasses|children's eye exam",
        "Pediatric eye exams and glasses are separate benefits.",
    ),
    _entry(
        r"dentist|dental|teeth|tooth",
        "dental|dental care|pediatric dental",
        "Dental care is often excluded from medical plans.",
    ),
    _entry(
        r"wheelchair|crutches|walker|oxygen|cpap|medical equipment",
        "durable medical equipment",
        "HealthCare.gov: durable medical equipment (DME).",
    ),
    _entry(
        r"nurse (at|coming to) (my )?home|home care|care at home|nursing home",
        "home health care|skilled nursing care|hospice services",
        "Home health care and skilled nursing are separate benefits.",
    ),
    _entry(
        r"(free|no cost|no charge) (check-?ups?|screenings?|shots?)|vaccin|immuni[sz]|shots?|screening",
        "preventive care|preventive services|immunizations|screening",
        "Preventive services are covered without cost sharing.",
    ),
    _entry(
        r"(money|account) (for|to pay) (medical|health)|hsa|fsa|tax-free (money|account)",
        "health savings account|flexible spending account|hsa|fsa",
        "HSA and FSA are the accounts people use to pay medical costs.",
    ),
    _entry(
        r"(allowed|approved|covered) amount|how much (the plan|they) (think|say) it costs|usual and customary",
        "allowed amount|eligible expense|usual, customary and reasonable|ucr",
        "HealthCare.gov: the allowed amount is the maximum the plan pays for a service.",
    ),
    _entry(
        r"surprise bill|bill (from|for) the (doctor|difference)|charged the difference",
        "balance billing|surprise billing|no surprises",
        "Balance billing is the provider billing the difference between charge and allowed amount.",
    ),
    # --- Life, disability, business income ------------------------------------------------------------
    _entry(
        r"(who gets|who receives) the money|(when|if) i die|after my death|death (benefit|payout)",
        "beneficiary|death benefit",
        "The beneficiary receives the death benefit.",
    ),
    _entry(
        r"(can't|cannot|unable to) work|lost (wages|income|pay)|out of work (because|due)",
        "loss of income|disability|business income|loss of earnings",
        "Lost income is 'loss of income' or 'business income' (commercial) or disability.",
    ),
    _entry(
        r"(business|shop|store|restaurant) (closed|shut|had to close)|(lost|loss of) (business|sales|revenue)",
        "business income|extra expense|period of restoration|suspension of operations",
        "Business income coverage pays during the 'period of restoration' after a 'suspension'.",
    ),
    _entry(
        r"(computer|data) (hack|breach)|hacked|ransomware|cyber|data breach|identity theft",
        "cyber|data compromise|electronic data|identity fraud expense",
        "Data compromise and identity fraud expense coverages; electronic data is often excluded.",
    ),
    _entry(
        r"(tools|equipment) (stolen|damaged)|(contractor|work) (tools|equipment)",
        "contractors equipment|inland marine|business personal property",
        "Tools and equipment are 'business personal property' or contractors equipment (inland marine).",
    ),
    _entry(
        r"(terrorism|terrorist|war|riot|nuclear|radiation)",
        "war|terrorism|nuclear hazard|riot or civil commotion",
        "War, nuclear hazard and terrorism are standard exclusions; riot is a named peril.",
    ),
    _entry(
        r"(government|police) (seized|took|destroyed)|confiscat",
        "governmental action|civil authority",
        "Governmental action is excluded; civil authority is a business income coverage.",
    ),
    _entry(
        r"(neglect(ed)?|didn't|did not) (maintain|fix|repair)|poor maintenance|(slowly|gradual(ly)?) (leak|rot"
        r"|deteriorat)",
        "neglect|wear and tear|deterioration|continuous or repeated seepage",
        "Losses from neglect, wear and tear or continuous seepage are excluded.",
    ),
    _entry(
        r"bugs?|insects?|termites?|rodents?|mice|rats|vermin|pests?",
        "birds, rodents or insects|vermin|insects",
        "Damage by 'birds, vermin, rodents, or insects' is excluded.",
    ),
    _entry(
        r"(trampoline|pool|swimming pool|hot tub)",
        "swimming pool|trampoline|attractive nuisance",
        "Pools and trampolines are named in liability exclusions or underwriting.",
    ),
    _entry(
        r"snow|ice dam|ice build|weight of (snow|ice)",
        "weight of ice, snow or sleet|ice dam",
        "The peril is 'weight of ice, snow or sleet'.",
    ),
)


# The words that frame a question rather than say what it is about ("how much must I …", "what happens
# if …"), which PostgreSQL's english stop list keeps: in the keyword ranking they would score any clause
# that happens to say "must" or "much". The vector ranking still sees the whole question.
_QUESTION_FRAME_WORDS = (
    "much must would could may might need needs want wants get gets got happen happens happened please tell"
    " know us many kind sort something anything thing things actually really going go ever still also like"
    " question mean means say says exactly"
)
QUESTION_FRAME = frozenset(_QUESTION_FRAME_WORDS.split())


def question_words(question: str) -> str:
    """``question`` without the words that only frame it (QUESTION_FRAME)."""
    return " ".join(word for word in question.split() if word.lower().strip("?,.!'\"") not in QUESTION_FRAME)


@dataclass(frozen=True)
class Expansion:
    """What the glossary read in a question: the policy ``terms`` for its lay phrasings, the phrasings it
    matched (``lay``), and the question without them (``remainder``)."""

    terms: list[str]
    lay: list[str]
    remainder: str


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    return tuple(
        (re.compile(r"(?<![\w])(?:" + "|".join(entry.phrasings) + r")(?![\w])"), entry.terms) for entry in GLOSSARY
    )


def expand(question: str) -> Expansion:
    """The policy terms for the lay phrasings in ``question``, in glossary order, each once. Terms are
    phrases: the keyword ranking searches each as a phrase. The matched phrasings are set apart: "before my
    coverage kicks in" means deductible, and its own words ("coverage") would otherwise pull towards every
    clause that says coverage."""
    text = " ".join(question.lower().split())
    terms: dict[str, None] = {}
    spans: list[tuple[int, int]] = []
    for pattern, entry_terms in _compiled():
        matches = list(pattern.finditer(text))
        if matches:
            terms.update(dict.fromkeys(entry_terms))
            # A one-word phrasing ("mold", "trailer") is the user's own word for the thing and stays one
            # of their words; a phrasing of several ("before my coverage kicks in") describes the term.
            spans += [m.span() for m in matches if " " in m.group()]
    kept = [True] * len(text)
    for start, end in spans:
        kept[start:end] = [False] * (end - start)
    remainder = "".join(ch if keep else " " for ch, keep in zip(text, kept, strict=True))
    lay = [text[start:end] for start, end in sorted(set(spans))]
    return Expansion(list(terms), lay, question_words(remainder))
