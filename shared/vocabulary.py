"""Binôme's vocabulary: what each field and parameter of the API and of the events means, with
an example, in one home.

Most words mean one thing everywhere (`program_id`, `scheduled_at`, `mentor_employee_id`): they
are described once, by name. A word whose meaning depends on its schema (`status`, `score`,
`note`) has an entry `Schema.word` too, which wins. A model may still describe a field itself
(`Field(description=...)`): what it says is kept. `describe` fills the OpenAPI and AsyncAPI
documents' schemas and parameters from here; a test holds every field of both documents to
having a description and an example, and every entry here to being used.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple


class Term(NamedTuple):
    description: str
    example: Any


UUID = "3f6c2a1e-8b4d-4e2f-9a7c-5d1e0b9f4a62"
UUID2 = "9b2e7d44-0c1a-4f6e-8d3b-a1c5e9f07b18"
AT = "2026-12-02T09:30:00Z"
DAY = "2026-12-02"

# --- by name -------------------------------------------------------------------------------

FIELDS: dict[str, Term] = {
    # ids
    "id": Term("This object's id, assigned by Binôme (a UUID).", UUID),
    "program_id": Term("The programme's id.", UUID),
    "match_id": Term("The match's (the relationship's) id.", UUID),
    "session_id": Term("The session's id.", UUID),
    "run_id": Term("The matching run that proposed it; null when made another way.", UUID),
    "case_id": Term("The corrective case's id.", UUID),
    "survey_id": Term("The survey's id.", UUID),
    "request_id": Term("The mentor request's id.", UUID),
    "feedback_id": Term("The feedback's id.", UUID),
    "goal_id": Term("The goal's id, unique in its agreement.", "g1"),
    "milestone_id": Term("The milestone's id, unique in its goal.", "m1"),
    "action_id": Term("The case action's id.", UUID),
    "group_id": Term("The group session's id (one session per mentee of the circle).", UUID),
    "chain_id": Term("The request chain: a request and those it cascaded to share it.", UUID),
    "participant_id": Term("The participant's (an employee enrolled in a programme) id.", UUID),
    "employee_id": Term("The employee's id (the HRIS's).", "emp-1042"),
    "mentor_employee_id": Term("The mentor's employee id.", "emp-0007"),
    "mentee_employee_id": Term("The mentee's employee id.", "emp-1042"),
    "mentor_participant_id": Term("The mentor's participant id.", UUID2),
    "mentee_participant_id": Term("The mentee's participant id.", UUID),
    "mentee_participant_ids": Term("The mentees' participant ids.", [UUID]),
    "author_employee_id": Term("Who wrote it (employee id).", "emp-1042"),
    "respondent_employee_id": Term("Who the survey asks (employee id).", "emp-1042"),
    "assignee_employee_id": Term("Who is to follow the training (employee id).", "emp-0007"),
    "facilitator_employee_id": Term(
        "Who facilitates a mediation session (employee id); null otherwise.", "emp-0300"
    ),
    "manager_id": Term("The employee's manager (employee id).", "emp-0300"),
    "replaces_match_id": Term(
        "The ended match this one replaces (a re-match); null if none.", UUID2
    ),
    "ended_match_id": Term("The match whose end put the mentee on the list; null if none.", UUID2),
    "training_item_id": Term(
        "The training item, an id of the programme's `training`.", "active-listening"
    ),
    "cascaded_from": Term(
        "The declined or expired request this one cascaded from; null if none.", UUID2
    ),
    "event_id": Term(
        "The sender's id of the event: a re-sent id is a duplicate.", "hris-20261202-0001"
    ),
    # people
    "name": Term("Its name, as people read it.", "Onboarding 2027"),
    "email": Term("Work e-mail address.", "ann.martin@example.com"),
    "department": Term("Department (the directory's).", "Engineering"),
    "level": Term("Seniority level, 0 to 20 (the HRIS's grading).", 7),
    "languages": Term("Languages spoken, ISO 639-1 codes.", ["fr", "en"]),
    "timezone": Term("IANA time zone.", "Europe/Paris"),
    "location": Term("Office or city.", "Lyon"),
    "hired_on": Term("Hiring date (tenure, for eligibility rules).", "2019-04-01"),
    "manager_chain": Term(
        "The managers above the employee, nearest first (employee ids).", ["emp-0300", "emp-0001"]
    ),
    "tz_offset_h": Term("UTC offset of the employee's time zone now, in hours.", 1),
    "employee": Term("The employee record, as the HRIS holds it.", None),
    # programmes
    "description": Term(
        "What it is for, in a sentence or two.",
        "Pair newcomers with a senior for their first six months.",
    ),
    "format": Term(
        "`classic` (senior guides junior), `reverse` (junior teaches senior) or `circles` (a mentor and a group).",
        "classic",
    ),
    "objectives": Term("What the programme is for: the business goal and the target skills.", None),
    "business_goal": Term("The need the programme answers.", "Newcomers productive in 3 months"),
    "skills": Term("The skills concerned.", ["sql", "python"]),
    "eligibility": Term("Who may enrol, per role.", None),
    "mentor": Term("Who may enrol as mentor.", None),
    "mentee": Term("Who may enrol as mentee.", None),
    "min_level": Term("Lowest level admitted; null: no minimum.", 5),
    "max_level": Term("Highest level admitted; null: no maximum.", 12),
    "min_tenure": Term("Least time since hiring (ISO 8601 duration); null: none.", "P1Y"),
    "departments": Term(
        "Departments admitted, any of them (case-insensitive); empty: all.", ["Engineering", "Data"]
    ),
    "enrolment_opens": Term("First day of enrolment; null: open now.", "2027-01-04"),
    "enrolment_closes": Term("Last day of enrolment; null: no end.", "2027-01-29"),
    "starts_on": Term("First day of the programme.", "2027-02-01"),
    "ends_on": Term("Last day of the programme: open matches end then.", "2027-07-30"),
    "relationship_duration": Term(
        "How long a relationship lasts (ISO 8601); null: until the programme ends.", "P180D"
    ),
    "requires_approval": Term("Enrolments wait for an admin's approval.", False),
    "auto_publish": Term(
        "A matching run's proposal is published at once (no admin review).", False
    ),
    "weights": Term(
        "Weight of each matching criterion (skills, themes, similarity, seniority, department, timezone, availability, volunteer), 0 (ignored) to 10 (a hard filter); a criterion not given keeps its default.",
        {"skills": 5, "availability": 3},
    ),
    "max_timezone_gap_h": Term("Largest time-zone gap between mentor and mentee, in hours.", 6),
    "min_score": Term("Least compatibility score (0 to 1) for a pair to be proposed.", 0.2),
    "cross_department": Term("Mentor and mentee must come from different departments.", False),
    "matching_policy": Term(
        "What a run maximises: `max_matched` (the most pairs, then the best scores), `max_score` or `stable`.",
        None,
    ),
    "seniority_rule": Term(
        "Whether the format's level order (mentor above in classic, below in reverse) is `required` or only `preferred`.",
        None,
    ),
    "engagement": Term("How relationships are followed over time.", None),
    "agenda_templates": Term(
        "Agendas of a relationship's first sessions, by session number.", None
    ),
    "requests": Term("Self-service mentor requests: whether and how mentees ask a mentor.", None),
    "training": Term("Trainings a corrective case may assign.", None),
    "questions": Term("The enrolment questionnaire (its answers feed the matching).", None),
    # engagement policy
    "unconfirmed_after": Term(
        "A session still planned this long after its end becomes `unconfirmed` (ISO 8601).", "P2D"
    ),
    "cadence": Term("The expected meeting rhythm (ISO 8601).", "P14D"),
    "nudge_after": Term("Cadences without a session before the pair is nudged.", 1.0),
    "attention_after": Term(
        "Cadences without a session before the relationship needs attention.", 2.0
    ),
    "at_risk_after": Term("Cadences without a session before the relationship is at risk.", 3.0),
    "first_pulse": Term("The first pulse survey, this long after activation (ISO 8601).", "P30D"),
    "pulse_every": Term("Then a pulse survey this often (ISO 8601).", "P60D"),
    "survey_expires": Term("An unanswered survey expires after this (ISO 8601).", "P14D"),
    "mentor_low_rating": Term(
        "The mentor's recent ratings averaging below this (1 to 5) are low.", 2.5
    ),
    "mentee_low_rating": Term(
        "The mentee's recent ratings averaging below this (1 to 5) are low.", 2.5
    ),
    "min_ratings": Term("Ratings averaged to judge a side.", 2),
    "on_at_risk": Term(
        "What an at-risk relationship's case does: `review` (an admin decides), `rematch` or `conclude` after `grace`.",
        "review",
    ),
    "grace": Term("Time the pair has to recover before `on_at_risk` acts (ISO 8601).", "P3D"),
    # request policy
    "enabled": Term("Mentees may ask a mentor of their choice.", True),
    "expires_after": Term("An unanswered request expires after this (ISO 8601).", "P7D"),
    "max_open": Term("Open requests a mentee may have at once.", 1),
    "cascade": Term("A declined or expired request moves on to the mentee's next choice.", True),
    # questionnaire, agendas, training
    "text": Term("The text.", "Ask about the SQL course"),
    "kind": Term("Its kind (see the enum).", None),
    "options": Term("The answers a `single` or `multiple` question offers.", ["sql", "python"]),
    "required": Term("An answer is required.", True),
    "feeds": Term(
        "The matching criterion the answers feed (`themes`, `skills`); null: similarity only.",
        "themes",
    ),
    "session": Term("The session number (1: the first).", 1),
    "topics": Term("Topics to cover.", ["Goals for the relationship", "How we work together"]),
    "title": Term("Its title.", "Active listening"),
    "url": Term("Its address.", "https://learning.example.com/active-listening"),
    # participants
    "role": Term("`mentor` or `mentee`.", "mentee"),
    "skills_offered": Term("Skills a mentor can teach.", ["python", "sql"]),
    "skills_sought": Term("Skills a mentee wants to learn.", ["sql"]),
    "themes": Term("Themes of interest (circles match on them).", ["leadership"]),
    "availability": Term(
        "Weekly four-hour slots free for sessions (0 = Monday 00:00-04:00 UTC, up to 41).",
        [8, 9, 14],
    ),
    "volunteer": Term("Enrolled of their own will (volunteers are matched first).", True),
    "capacity": Term("Mentees a mentor takes at most.", 2),
    "answers": Term(
        "Answers to the programme's questionnaire, by question id (or a list of 1-5 without one).",
        {"pace": 4, "topics": ["sql"]},
    ),
    "decision_note": Term("The admin's note on approving or rejecting.", "Welcome aboard"),
    "rejected_reason": Term("Why the enrolment was refused; null if it was not.", "not_eligible"),
    "override_note": Term(
        "Why an admin enrolled someone the eligibility rules exclude.", "Agreed with HR"
    ),
    "withdrawn_reason": Term("Why the participant left; null if they did not.", "no_time"),
    "withdrawn_note": Term("A note on the withdrawal.", "Moving to another team"),
    # matches and runs
    "score": Term("Compatibility score of the pair, 0 to 1.", 0.82),
    "explanation": Term(
        "Why this pair: the score split by criterion, the mentee's top-scored mentor when it is another and why not, and the next best mentor.",
        {
            "contributions": {"skills": 0.5, "availability": 0.2},
            "top_choice": None,
            "why_not_top_choice": None,
            "next_best": {"mentor_participant_id": UUID2, "score": 0.61},
        },
    ),
    "contributions": Term(
        "Each criterion's part of the score.",
        {"skills": 0.5, "availability": 0.2},
    ),
    "remaining_capacity": Term("Mentees the mentor can still take.", 1),
    "mentor_accepted": Term("The mentor accepted the proposal.", True),
    "mentee_accepted": Term("The mentee accepted the proposal.", False),
    "mentor_completed": Term("The mentor marked the relationship complete.", False),
    "mentee_completed": Term("The mentee marked the relationship complete.", False),
    "end_reason": Term("Why the match ended; null while it runs.", "completed"),
    "end_note": Term("A note on the end.", "Goals reached early"),
    "ended_at": Term("When it ended; null while it runs.", AT),
    "policy": Term("What the run maximised.", "max_matched"),
    "mentees_considered": Term("Mentees the run could pair.", 120),
    "mentors_considered": Term("Mentors with room the run could use.", 45),
    "matched": Term("Mentees the run paired.", 112),
    "total_score": Term("Sum of the pairs' scores.", 91.4),
    "inputs_digest": Term(
        "SHA-256 of what the run saw: the same inputs give the same run.", "9c1f" + "0" * 60
    ),
    "certificate_holds": Term(
        "The optimality certificate checks: no assignment scores higher.", True
    ),
    "objective_primal": Term("The assignment's value (scaled integer).", 914000),
    "objective_dual": Term(
        "The dual bound; equal to `objective_primal` when proven optimal.", 914000
    ),
    "pairs_covered": Term("Candidate pairs the solver weighed.", 5400),
    "solve_ms": Term("Solver time, milliseconds.", 12.5),
    "blocking_pairs": Term(
        "Mentee and mentor who would both rather be together (stability audit).", 0
    ),
    "published_at": Term(
        "When the run was published (its pairs became matches); null while a draft.", AT
    ),
    "circles": Term(
        "Circles programmes: the pairs grouped by mentor (the pairs themselves: "
        "GET /v1/matching-runs/{id}/pairs).",
        None,
    ),
    "shared_themes": Term("Share of the circle's themes its members share (0 to 1).", 0.75),
    "suggestions": Term("Mentors with room, the best first.", None),
    "since": Term("Waiting since.", AT),
    # mentor requests
    "message": Term("The mentee's message to the mentor.", "Could you help me with Python?"),
    "next_choices": Term(
        "Mentors to ask next if this one declines or lets it expire (participant ids, in order).",
        [UUID2],
    ),
    "choices": Term("The mentors the mentee chose, in order (participant ids).", [UUID2]),
    "decided_at": Term("When the mentor answered; null while open.", AT),
    "decline_reason": Term("Why the mentor declined; null otherwise.", "no_time"),
    "decline_note": Term("The mentor's note on declining.", "No time before March"),
    "withdrawn_because": Term("Why the request was withdrawn; null otherwise.", "mentee"),
    "because": Term("Why the request was withdrawn.", "mentee"),
    # sessions
    "scheduled_at": Term("When it starts (RFC 3339 with an offset).", AT),
    "duration_minutes": Term(
        "Planned length in minutes (5 to 480).",
        60,
    ),
    "topic": Term("What the session is about.", "Reading query plans"),
    "agenda": Term("The session's agenda items.", ["Goals", "Next steps"]),
    "items": Term("The agenda items, in order.", ["Goals", "Next steps"]),
    "sequence": Term("The session's number in its relationship (1: the first).", 3),
    "completed_at": Term("When it was marked held; null otherwise.", AT),
    "cancel_reason": Term("Why it was cancelled; null otherwise.", "unavailable"),
    "cancel_note": Term("A note on the cancellation.", "Off sick"),
    "absent": Term("Who did not come: `mentor` or `mentee`.", "mentor"),
    "reschedules": Term("Earlier times and why each moved.", None),
    "previous_at": Term("The time it was planned for before.", AT),
    "notes": Term("Notes on the session.", "Went through two query plans"),
    "sessions": Term("Sessions.", 4),
    "hours": Term("Mentoring hours, held sessions' planned durations.", 6.5),
    "hours_as_mentor": Term("Hours as mentor.", 4.0),
    "hours_as_mentee": Term("Hours as mentee.", 2.5),
    "sessions_as_mentor": Term("Sessions held as mentor.", 4),
    "sessions_as_mentee": Term("Sessions held as mentee.", 2),
    "revoked_at": Term("When it was revoked; null while live.", AT),
    # journey
    "goals": Term("The relationship's goals.", None),
    "milestones": Term("Steps towards the goal, with dates.", None),
    "due_on": Term("Date the milestone is due.", "2027-03-01"),
    "reached_on": Term("Date it was reached; null if not yet.", DAY),
    "on": Term("Date it was reached; absent: today.", DAY),
    "progress": Term("Progress, 0 to 100 percent.", 40),
    "previous": Term("The value before the change.", "draft"),
    "rhythm": Term("The meeting rhythm the pair agreed on (ISO 8601).", "P14D"),
    "agreed_cadence": Term(
        "The meeting rhythm the pair agreed on (ISO 8601), which the follow-up uses.", "P14D"
    ),
    "version": Term("Version of the agreement, one more at each change.", 2),
    "mentor_confirmed": Term("The mentor confirmed this version.", True),
    "mentee_confirmed": Term("The mentee confirmed this version.", True),
    "signed_at": Term("When both sides had confirmed; null until then.", AT),
    "history": Term("What happened, oldest first.", None),
    "phase": Term("`baseline`, `midpoint` or `final`.", "baseline"),
    "by": Term("Whose view: `mentee` (their own) or `mentor`.", "mentee"),
    "ratings": Term("Rating of each skill, 1 to 5.", {"sql": 2}),
    "mean_progress": Term(
        "Mean progress over the skills (latest minus baseline); null: nothing measured.", 1.5
    ),
    # feedback and surveys
    "rating": Term("Rating of the session, 1 to 5.", 4),
    "comment": Term("A comment only its author and admins see.", "Very useful"),
    "has_comment": Term("A comment was left (its text stays in the feedback service).", True),
    "sent_at": Term("When the survey was sent.", AT),
    "answered_at": Term("When it was answered; null if not.", AT),
    "expires_at": Term("When it expires.", "2026-12-16T09:30:00Z"),
    "quality": Term("How good the relationship is, 1 to 5.", 4),
    "recommend": Term("Would recommend the programme, 1 to 5.", 5),
    "mean": Term("Mean of the answers.", 4.3),
    # health and cases
    "state": Term("The relationship's health (see the enum).", None),
    "reasons": Term("The signals behind it, the largest first.", None),
    "signal": Term("The signal.", "inactivity"),
    "share": Term("Its share of the score lost (0 to 1).", 0.6),
    "detail": Term("The signal in words.", "no session for 30 days"),
    "held": Term("Sessions held.", 3),
    "nudges": Term("Nudges sent for inactivity.", 1),
    "last_activity_at": Term("The last session held or planned.", AT),
    "idle_days": Term("Days without a session.", 21),
    "paused": Term("Follow-up paused (an open case handles it).", False),
    "cause": Term("What opened the case.", "at_risk"),
    "why": Term("Why the case was opened, in words.", "never met in 42 days"),
    "recommendation": Term("The action Binôme recommends.", "repair"),
    "opened_at": Term("When the case opened.", AT),
    "closed_at": Term("When it closed; null while open.", AT),
    "outcome": Term("How it closed; null while open.", "recovered"),
    "recovered": Term("The relationship recovered; null while the case is open.", True),
    "score_at_open": Term("Health score (0 to 100) when the case opened.", 40),
    "score_at_close": Term("Health score when it closed; null while open.", 85),
    "training_completed_at": Term("When the assigned training was completed; null if not.", AT),
    "at": Term("When.", AT),
    "what": Term("What happened.", "opened"),
    "details": Term("The entry's particulars.", {"action": "repair"}),
    "action": Term("The action to take.", "repair"),
    "assignee": Term("Who follows the training: `mentor` or `mentee`.", "mentor"),
    "note": Term("A note for the record (up to 1000 characters).", "Agreed with both sides"),
    # reporting
    "group": Term(
        "The KPI's group (participation, engagement, satisfaction, progress).", "engagement"
    ),
    "unit": Term("Unit of the value.", "share"),
    "definition": Term("How it is computed.", "completed sessions / sessions planned"),
    "value": Term(
        "The figure, a breakdown (a withheld cell is null), or null when withheld or nothing to measure.",
        0.82,
    ),
    "values": Term(
        "One value per week of `weeks` (null: withheld or nothing to say).", [0.8, None, 0.75]
    ),
    "population": Term("People the figure describes.", 42),
    "suppressed": Term("Some or all of it withheld: fewer than 5 people (privacy).", False),
    "kpis": Term("The indicators.", None),
    "series": Term("One series per indicator.", None),
    "weeks": Term("The Mondays (UTC) of the series' weeks.", ["2026-11-23", "2026-11-30"]),
    "start": Term(
        "Start of the period (inclusive); null: since the beginning.", "2026-09-01T00:00:00Z"
    ),
    "end": Term("End of the period (exclusive); null: no end.", "2026-12-01T00:00:00Z"),
    "participants_by_role": Term("Participants by role.", {"mentor": 12, "mentee": 20}),
    "matches_by_status": Term("Matches by status.", {"active": 10, "ended": 2}),
    "matches_ended_by_reason": Term("Ended matches by reason.", {"incompatibility": 1}),
    "rematches": Term("Matches that replaced an ended one.", 2),
    "relationships_at_risk": Term("Relationships that opened a case at risk.", 1),
    "cases_open": Term("Corrective cases open.", 1),
    "cases_by_outcome": Term("Closed cases by outcome.", {"recovered": 3}),
    "sessions_by_status": Term("Sessions by status.", {"completed": 30, "planned": 8}),
    "sessions_completed": Term("Sessions held.", 30),
    "mentoring_hours": Term("Hours of held sessions.", 45.5),
    "average_rating": Term("Mean session rating; null: none yet, or fewer than 5 raters.", 4.2),
    "skill_progress": Term(
        "Per target skill: relationships measured and their mean progress (under 5: left out).",
        {"sql": {"relationships": 6, "mean_progress": 1.3}},
    ),
    "skills_suppressed": Term("Target skills left out, measured in fewer than 5 relationships.", 1),
    # HRIS
    "events": Term("The events, applied in order, all or none.", None),
    "occurred_at": Term("When it happened at the HRIS; absent: when received.", AT),
    "results": Term("One result per event, in order.", None),
    # events
    "changed": Term("The settings that changed.", ["engagement"]),
    "ce_specversion": Term("CloudEvents version.", "1.0"),
    "ce_time": Term("When the event happened (RFC 3339).", AT),
    "content-type": Term("The payload's media type.", "application/json"),
    # shared
    "created_at": Term("When it was created.", AT),
    "updated_at": Term("When it last changed.", AT),
    "status": Term("Where it stands in its lifecycle (see the enum).", None),
    "reason": Term("Why (see the enum).", None),
    "side": Term(
        "Which side accepts, for an admin acting on someone's behalf: `mentor` or `mentee`.",
        "mentee",
    ),
    # community events
    "starts_at": Term("When it starts.", AT),
    "attended": Term("Those who came (employee ids).", ["emp-1042", "emp-0007"]),
    "mine": Term("The caller's registration's status; null: none.", "waiting"),
    "registered": Term("Seats taken.", 12),
    "waiting": Term("People on the waiting list.", 3),
    "promoted": Term("A seat freed up for them from the waiting list.", False),
    "position": Term("On the waiting list, their place (1 is next); null otherwise.", 1),
    "registered_at": Term("When they registered (the waiting list's order).", AT),
    # recognition
    "award_id": Term("The badge award's id (one per rule and employee).", UUID),
    "rule_id": Term("The badge rule's id.", UUID),
    "kudos_id": Term("The kudos' id.", UUID),
    "badge": Term("The badge's name, as its rule says.", "Regular"),
    "metric": Term(
        "What the badge counts: `sessions_held`, `hours`, `partners` (people accompanied), "
        "`relationships_completed` or `survey_score` (the other parties' mean, 1-5).",
        "sessions_held",
    ),
    "threshold": Term("The figure at which the badge is earned.", 10),
    "awarded": Term("How many employees earned it so far.", 3),
    "awarded_at": Term("When it was earned.", AT),
    "evidence": Term(
        "The employee's figures in the programme when they earned it.",
        {"sessions_held": 10, "hours": 12.5, "partners": 3},
    ),
    "program": Term("The programme's name.", "Onboarding 2026"),
    "figures": Term("What they did there in that role.", None),
    "sessions_held": Term("Sessions completed.", 10),
    "partners": Term("People accompanied: mentees for a mentor, mentors for a mentee.", 3),
    "relationships": Term("Relationships that started.", 4),
    "relationships_completed": Term("Relationships brought to completion.", 2),
    "survey_score": Term(
        "The mean survey answer the other parties gave (1-5); null until 5 people answered.", 4.4
    ),
    "survey_respondents": Term("How many people answered those surveys.", 5),
    "from_employee_id": Term("Who gave it (employee id).", "emp-1042"),
    "to_employee_id": Term("Who received it (employee id).", "emp-0007"),
    "as_mentor": Term("Every programme together, as mentor (no survey score across them).", None),
    "as_mentee": Term("Every programme together, as mentee.", None),
    "badges": Term("The badges earned, with their evidence, the oldest first.", []),
    "kudos_given": Term("How many kudos they gave.", 2),
    "kudos_received": Term("The kudos received, the newest first (at most 100).", []),
    # webhooks
    "endpoint_id": Term("The webhook endpoint's id.", UUID),
    "event_type": Term(
        "The event's type (see /asyncapi.json).", "binome.matching.match.proposed.v1"
    ),
    "event_types": Term(
        'The event types it gets, from the catalogue; ["*"]: every type.',
        ["binome.matching.match.proposed.v1", "binome.feedback.case.opened.v1"],
    ),
    "secret": Term(
        "The signing secret (Standard Webhooks: whsec_ and the key in base64), shown once.",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    "label": Term("What the credential is for (an admin's note).", "Okta (production)"),
    # GDPR
    "erasure_id": Term("The erasure's id.", UUID),
    "pseudonym": Term(
        "What replaces the erased employee's id in every record that named them.",
        "erased-5c0f2a9e1b7d4c63",
    ),
    "repeat_after": Term(
        "How long after its first pass each service erases again, then confirms (ISO 8601).",
        "PT10M",
    ),
    "records": Term("The records the service deleted or changed.", 12),
    "service": Term("The Binôme service.", "matching"),
    "requested_at": Term("When the erasure was requested.", AT),
    "confirmed": Term(
        "The services that erased, with the records each deleted or changed.",
        {"enrollment": 6, "matching": 3},
    ),
    "pending": Term("The services yet to confirm.", ["sessions", "feedback", "reporting"]),
    "token": Term(
        "The SCIM bearer token (scim_ and 43 random characters), shown once: Binôme keeps its "
        "SHA-256.",
        "scim_q3Xv0S2m9R1mYb8Jc5Tn7Wk4Lp6Hd0Fa2Ge8Zi1Ux4E",
    ),
    "disabled_reason": Term(
        "Why it gets nothing now; null while enabled.", "the receiver answered 410 Gone"
    ),
    "disabled_at": Term("Since when it is disabled; null while enabled.", AT),
    "failing_since": Term("Its first failed attempt since the last success; null: none.", AT),
    "previous_secret_expires_at": Term(
        "Until when the rotated-out secret still signs beside the current one; null: none.", AT
    ),
    "keep_previous_for": Term(
        "How long the old secret keeps signing beside the new one (ISO 8601, at most P7D).",
        "P1D",
    ),
    "requeued": Term("How many failed deliveries were queued again.", 3),
    "attempts": Term("Attempts in this round (a replay starts a new one).", 1),
    "total_attempts": Term("Attempts ever made, replays included.", 1),
    "next_attempt_at": Term("When it is tried next; null once delivered or failed.", AT),
    "last_status": Term("The receiver's last HTTP status; null if it could not answer.", 200),
    "last_error": Term(
        "Why the last attempt failed; null if it succeeded.", "the receiver answered 500"
    ),
    "delivered_at": Term("When the receiver accepted it (2xx); null until then.", AT),
    "payload": Term(
        "The CloudEvent sent, structured JSON.",
        {"specversion": "1.0", "type": "binome.matching.match.proposed.v1", "data": {}},
    ),
    "attempt_log": Term("Every attempt, the first first.", []),
    "number": Term("The attempt's number, from 1.", 1),
    "status_code": Term("The receiver's HTTP status; null if it could not answer.", 500),
    "error": Term(
        "Why it failed (timeout, refused address...); null if it answered.", "ConnectTimeout"
    ),
    "duration_ms": Term("How long the attempt took, in milliseconds.", 84),
    "response": Term("The first 500 characters of the receiver's answer.", '{"ok": true}'),
}

# --- where a word means something particular -------------------------------------------------

IN_SCHEMA: dict[str, Term] = {
    "EmployeeImportResult.imported": Term("The lines imported, in file order.", None),
    "EmployeeImportResult.refused": Term("The lines refused (per_line), in file order.", None),
    "ImportedLine.line": Term("The line in the file (the header is line 1).", 2),
    "CsvLineRefused.line": Term("The line in the file (the header is line 1).", 3),
    "CsvLineRefused.field": Term("The column at fault, if one is.", "level"),
    "SuggestionsPublic.none_because": Term(
        "Why there is no suggestion (null when there are some): `no_mentor` enrolled yet, "
        "`every_mentor_full`, or `none_allowed` (each mentor with room ruled out for this "
        "mentee: language, seniority, reporting line, a past pair).",
        "every_mentor_full",
    ),
    "SuggestionsPublic.waiting": Term(
        "On the programme's waiting list: proposed a mentor as soon as one has room.", True
    ),
    "EnrolmentBatch.participants": Term(
        "The enrolments, one per line, each as `POST /v1/participants` takes it.", None
    ),
    "EnrolmentBatch.mode": Term(
        "`all_or_nothing`: a line refused refuses the batch; `per_line`: the others are enrolled.",
        "per_line",
    ),
    "EnrolmentBatchResult.enrolled": Term("The participants enrolled, in line order.", None),
    "EnrolmentBatchResult.refused": Term("The lines refused (per_line), in line order.", None),
    "LineRefused.index": Term("The line's place in `participants`, from 0.", 3),
    "LineRefused.status": Term(
        "The status `POST /v1/participants` would have answered for this line alone.", 409
    ),
    "LineRefused.field": Term("The line's field at fault, if one is.", "employee_id"),
    "ParticipantImportResult.enrolled": Term("The participants enrolled, in file order.", None),
    "ParticipantImportResult.refused": Term("The lines refused (per_line), in file order.", None),
    "CsvEnrolmentRefused.line": Term("The line in the file (the header is line 1).", 4),
    "CsvEnrolmentRefused.field": Term("The column at fault, if one is.", "employee_id"),
    "CsvEnrolmentRefused.status": Term(
        "The status `POST /v1/participants` would have answered for this line alone.", 404
    ),
    "EmployeeIn.id": Term("The employee's id in the HRIS (kept as Binôme's).", "emp-1042"),
    "EmployeePublic.id": Term("The employee's id (the HRIS's).", "emp-1042"),
    "HrisEventResult.status": Term(
        "`applied`, or `duplicate` for an event id seen before.", "applied"
    ),
    "HealthPublic.score": Term("Health score, 100 best; admins only (null for the pair).", 72),
    "SessionPublic.notes": Term("The completion notes.", "Went through two query plans"),
    "CompleteRequest.notes": Term("Notes on the session held.", "Went through two query plans"),
    "GroupSessionPublic.sessions": Term("The circle's sessions, one per mentee.", None),
    "HoursPublic.sessions": Term("Sessions held.", 6),
    "ProgramReport.ratings": Term("Session ratings given.", 58),
    "RelationshipReport.skills": Term(
        "Per skill and perspective: the ratings by phase and the progress.",
        {"sql": {"mentee": {"baseline": 2, "final": 4, "progress": 2}}},
    ),
    "SkillProgressPublic.skills": Term(
        "Per skill and perspective: the ratings by phase and the progress.",
        {"sql": {"mentee": {"baseline": 2, "final": 4, "progress": 2}}},
    ),
    "Goal.skills": Term("The target skills the goal serves.", ["sql"]),
    "Objectives.skills": Term("The skills the programme targets.", None),
    "TargetSkill.name": Term("The skill.", "sql"),
    "TargetSkill.description": Term("What it means here.", "Query the warehouse"),
    "KpiPublic.name": Term("The indicator.", "session_completion"),
    "TrendPublic.name": Term("The indicator.", "sessions_held"),
    "ProgramReport.name": Term("The programme's name.", "Onboarding 2027"),
    "ProgramReport.format": Term("The programme's format.", "classic"),
    "KpiReport.role": Term("The role filter; null: both.", "mentee"),
    "KpiReport.department": Term("The department filter; null: all.", "Engineering"),
    "TrendReport.department": Term("The department filter; null: all.", "Engineering"),
    "DashboardLinkPublic.url": Term(
        "The page's address, its secret included: share it with care.",
        "/v1/reports/dashboards/Zt3…",
    ),
    "DashboardLinkPublic.expires_at": Term("When the link stops working.", "2026-12-02T17:30:00Z"),
    "CalendarFeedPublic.url": Term(
        "The feed's address, its secret included (only when made; null after).",
        "/v1/calendar/Qm9…ics",
    ),
    "TrainingItem.url": Term(
        "Where to follow it; null: none.", "https://learning.example.com/active-listening"
    ),
    "TrainingItem.id": Term("The item's id, which cases refer to.", "active-listening"),
    "Goal.id": Term("The goal's id, unique in its agreement.", "g1"),
    "Milestone.id": Term("The milestone's id, unique in its goal.", "m1"),
    "ScaleQuestion.options": Term("", []),
    "ScaleQuestion.id": Term("The question's id, which answers are keyed by.", "pace"),
    "ChoiceQuestion.id": Term("The question's id, which answers are keyed by.", "topics"),
    "Goal.title": Term("The goal.", "Write production SQL alone"),
    "Milestone.title": Term("The step.", "First query reviewed"),
    "TrainingItem.title": Term("The training.", "Active listening"),
    "NoteCreate.text": Term(
        "The note, private to its author (1 to 4000 characters).", "Ask about the SQL course"
    ),
    "NotePublic.text": Term("The note.", "Ask about the SQL course"),
    "ScaleQuestion.text": Term("The question as participants read it.", "What pace suits you?"),
    "ChoiceQuestion.text": Term(
        "The question as participants read it.", "Which topics interest you?"
    ),
    "MentorRequestPublic.score": Term("Compatibility score of the pair, 0 to 1.", 0.82),
    "CirclePublic.departments": Term("Departments the circle spans.", 3),
    "Goal.progress": Term("Progress, 0 to 100 percent.", 40),
    "GoalProgressIn.progress": Term("Progress, 0 to 100 percent.", 40),
    "SurveyAnswers.progress": Term("Progress towards the goals, 1 to 5.", 3),
    "SurveyPublic.progress": Term("Progress towards the goals, 1 to 5; null until answered.", 3),
    "SurveyAnswers.rhythm": Term("How well the meeting rhythm suits, 1 to 5.", 4),
    "SurveyPublic.rhythm": Term(
        "How well the meeting rhythm suits, 1 to 5; null until answered.", 4
    ),
    "SurveyPublic.quality": Term("How good the relationship is, 1 to 5; null until answered.", 4),
    "SurveyPublic.recommend": Term(
        "Would recommend the programme, 1 to 5; null until answered.", 5
    ),
    "SurveyPublic.comment": Term(
        "A comment only the respondent and admins see; null if none.", "Going well"
    ),
    "FeedbackPublic.comment": Term(
        "A comment only its author and admins see; null if none.", "Very useful"
    ),
    "ParticipantCreate.employee_id": Term(
        "Who enrols; employees enrol themselves (absent: the caller).", "emp-1042"
    ),
    "CalendarFeedCreate.employee_id": Term(
        "Whose feed (admins); absent: the caller's.", "emp-1042"
    ),
    "HoursPublic.employee_id": Term("The employee counted; null for a relationship.", "emp-1042"),
    "HoursPublic.match_id": Term("The relationship counted; null for an employee.", UUID),
    "KpiReport.program_id": Term("The programme; null: the whole organisation.", UUID),
    "TrendReport.program_id": Term("The programme; null: the whole organisation.", UUID),
    "RelationshipReport.program_id": Term("The relationship's programme.", UUID),
    "HrisProfileEvent.type": Term("What happened to the employee: hired or updated.", "hired"),
    "HrisStatusEvent.type": Term("What happened: terminated, on leave, returned.", "terminated"),
    "SurveyPublic.status": Term("`open` until answered or expired.", "open"),
    "DashboardLinkIn.expires_in": Term("", "PT8H"),
    "FieldError.loc": Term("", ["body", "engagement", "cadence"]),
    "FieldError.msg": Term("", "Input should be greater than 0"),
    "FieldError.type": Term("", "greater_than"),
    "FieldError.input": Term("", "PT0S"),
    "FieldError.ctx": Term("", {"gt": "0"}),
    "Problem.type": Term("", "about:blank"),
    "Problem.title": Term("", "Unprocessable Content"),
    "Problem.status": Term("", 422),
    "Problem.detail": Term("", "body.engagement.cadence: Input should be greater than 0"),
    "Problem.instance": Term("", "/v1/programs"),
    "SessionPublic.reschedules": Term(
        "Earlier times and why each moved, oldest first.",
        [
            {
                "from": AT,
                "to": "2026-12-09T09:30:00Z",
                "reason": "unavailable",
                "note": None,
                "at": AT,
                "by": "emp-1042",
            }
        ],
    ),
    "AgreementPublic.history": Term(
        "The versions signed before, oldest first.",
        [{"version": 1, "goals": [], "rhythm": 1209600.0, "signed_at": AT}],
    ),
    "AgreementIn.rhythm": Term("", "P14D"),
    "DashboardLinkIn.program_id": Term("", UUID),
    "ParticipantCreate.capacity": Term("", 2),
    "ParticipantUpdate.capacity": Term("", 2),
    "ParticipantCreate.override_note": Term("", "Agreed with HR"),
    "ParticipantUpdate.override_note": Term("", "Agreed with HR"),
    "CloudEventHeaders.ce_id": Term("", UUID),
    "CloudEventHeaders.ce_source": Term("", "/binome/matching"),
    "CloudEventHeaders.ce_type": Term("", "binome.matching.match.activated.v1"),
    "CloudEventHeaders.ce_subject": Term("", UUID),
    "CloudEventHeaders.ce_org": Term("", "acme"),
    "CloudEventHeaders.ce_traceparent": Term(
        "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ),
    "AgreementSigned.goals": Term(
        "The goals signed, as the API shows them.",
        [{"id": "g1", "title": "Write production SQL alone", "skills": ["sql"], "progress": 0}],
    ),
    "CaseClosed.score": Term("The relationship's health score (0 to 100) at the close.", 85),
    "RelationshipHealthChanged.score": Term("The health score, 0 to 100 (100 best).", 72),
    "GoalProgressed.previous": Term("Progress before, 0 to 100 percent.", 20),
    "ParticipantEnrolled.answers": Term(
        "The questionnaire's similarity answers in its order, 1 to 5 each.", [4, 2, 5]
    ),
    "ParticipantUpdated.answers": Term(
        "The questionnaire's similarity answers in its order, 1 to 5 each.", [4, 2, 5]
    ),
    "RoleEligibility.languages": Term("Speaks at least one of them; empty: any.", ["fr", "en"]),
    "HealthPublic.paused": Term(
        "Follow-up paused: a corrective case holds the relationship.", False
    ),
    "CasePublic.paused": Term("This case paused the relationship's follow-up.", False),
    "ApproveRequest.note": Term("The admin's note on approving.", "Welcome aboard"),
    "WebhookDeliveryPublic.event_id": Term("The event's id (the CloudEvent's).", UUID2),
    "WebhookDeliveryDetail.event_id": Term("The event's id (the CloudEvent's).", UUID2),
    "CommunityAttendanceRecorded.absent": Term(
        "Those with a seat who did not come (employee ids).", ["emp-0300"]
    ),
    "RecognitionPage.contributions": Term(
        "Each programme and role they took part in, with their figures.", []
    ),
    "RecoverIn.since": Term("Failed deliveries created since then are sent again.", AT),
}
for _schema in (
    "CommunityEventScheduled",
    "CommunityEventCancelled",
    "CommunityRegistrationChanged",
    "CommunityAttendanceRecorded",
    "RegistrationPublic",
):
    IN_SCHEMA[f"{_schema}.event_id"] = Term("The community event's id.", UUID)
for _schema in (
    "CommunityEventScheduled",
    "CommunityEventCancelled",
    "CommunityEventIn",
    "CommunityEventPublic",
):
    IN_SCHEMA[f"{_schema}.capacity"] = Term("Seats; once taken, a waiting list.", 20)
for _schema in ("CommunityEventIn", "CommunityEventPublic"):
    IN_SCHEMA[f"{_schema}.location"] = Term(
        "Where: a room, an address or a video link.", "Room 4 / https://meet.example.com/abc"
    )
for _schema in (
    "WebhookEndpointIn",
    "WebhookEndpointPatch",
    "WebhookEndpointPublic",
    "WebhookEndpointCreated",
):
    IN_SCHEMA[f"{_schema}.url"] = Term(
        "The receiver's URL: https, a public address.", "https://hooks.example.com/binome"
    )
    if _schema != "WebhookEndpointIn":
        IN_SCHEMA[f"{_schema}.enabled"] = Term(
            "Whether it gets events (false: paused by an admin or disabled after failures).",
            True,
        )

# --- query and path parameters ---------------------------------------------------------------

PARAMETERS: dict[str, Term] = {
    "path:program_id": Term("The programme's id.", UUID),
    "path:match_id": Term("The match's (the relationship's) id.", UUID),
    "path:session_id": Term("The session's id.", UUID),
    "path:participant_id": Term("The participant's id.", UUID),
    "path:employee_id": Term("The employee's id.", "emp-1042"),
    "path:case_id": Term("The case's id.", UUID),
    "path:survey_id": Term("The survey's id.", UUID),
    "path:request_id": Term("The mentor request's id.", UUID),
    "path:run_id": Term("The matching run's id.", UUID),
    "path:group_id": Term("The group session's id.", UUID),
    "path:feed_id": Term("The calendar feed's id.", UUID),
    "path:feedback_id": Term("The feedback's id.", UUID),
    "path:goal_id": Term("The goal's id.", "g1"),
    "path:milestone_id": Term("The milestone's id.", "m1"),
    "path:token": Term("The secret the link or feed was made with.", "Qm9vdGNhbXA"),
    "path:table": Term("Which table to export.", "participation"),
    "query:program_id": Term("Only this programme's.", UUID),
    "query:mode": Term(
        "`all_or_nothing`: a line refused refuses the file; `per_line`: the others are imported.",
        "per_line",
    ),
    "query:match_id": Term("Only this relationship's.", UUID),
    "query:session_id": Term("Only this session's.", UUID),
    "query:participant_id": Term("Only those this participant is in.", UUID),
    "query:run_id": Term("Only those this matching run proposed.", UUID),
    "query:employee_id": Term("Whose (admins); absent: the caller's.", "emp-1042"),
    "query:department": Term("Only this department's.", "Engineering"),
    "query:role": Term("Only this role's: `mentor` or `mentee`.", "mentee"),
    "query:status": Term("Only those in this state.", "active"),
    "query:state": Term("Only relationships of this health.", "at_risk"),
    "query:format": Term("`csv` or `json`.", "csv"),
    "query:from": Term("First day of the period (YYYY-MM-DD, UTC).", "2026-09-01"),
    "query:to": Term("Last day of the period (YYYY-MM-DD, UTC).", "2026-11-30"),
    "query:reason": Term("Only relationships with this signal behind their health.", None),
    "query:limit": Term("How many to return at most.", 5),
    "header:If-Match": Term(
        "The `ETag` of the resource as the caller last read it (shared.conditional): the "
        "change is made only if the resource is still so, else 412 and nothing changes. "
        "`*`: any version.",
        '"0YQ3iVpUYhcAY7TfPPSK7y2D"',
    ),
    "path:event_id": Term("The community event's id.", UUID),
    "query:kind": Term("Only those of this kind.", "workshop"),
    "query:upcoming": Term("Only those still to come (false: past ones too).", True),
    "path:endpoint_id": Term("The webhook endpoint's id.", UUID),
    "path:credential_id": Term("The SCIM credential's id.", UUID),
    "path:erasure_id": Term("The erasure's id.", UUID),
    "path:delivery_id": Term("The delivery's id (its webhook-id header).", UUID2),
    "query:event_type": Term(
        "Only deliveries of this event type.", "binome.feedback.case.opened.v1"
    ),
}


def _enum(prop: dict[str, Any], schemas: dict[str, Any]) -> list[Any] | None:
    """The values an enum-typed property takes (itself, by `$ref`, or one of an `anyOf`)."""
    for option in [prop, *prop.get("anyOf", [])]:
        target = schemas.get(option.get("$ref", "").rsplit("/", 1)[-1], option)
        if "enum" in target:
            return list(target["enum"])
        if "const" in target:
            return [target["const"]]
    return None


def _give_example(schema: dict[str, Any], example: Any, values: list[Any] | None) -> None:
    """`example` as the schema's (an enum's own first value if it is not one of them)."""
    if values is not None and example not in values:
        example = values[0]
    if example is not None:
        schema["examples"] = [example]


def describe_schemas(schemas: dict[str, Any]) -> None:
    """Fill the properties of `schemas` (a document's components) that say nothing: their
    description and an example from the vocabulary (an enum's: one of its values). What a
    model says itself is kept."""
    for schema_name, schema in schemas.items():
        for name, prop in (schema.get("properties") or {}).items():
            specific = IN_SCHEMA.get(f"{schema_name}.{name}")
            term = specific or FIELDS.get(name)
            if term is None:
                continue
            values = _enum(prop, schemas)
            if prop.get("description") and specific is None:
                if values and "examples" not in prop:  # an enum's value always fits
                    prop["examples"] = [values[0]]
                continue  # the model describes it: a word's usual example may not fit
            if term.description:  # "": the model describes it, the entry adds an example
                prop.setdefault("description", term.description)
            if "examples" not in prop and "example" not in prop:
                _give_example(prop, term.example, values)


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional header's schema without its `null` branch: a header is absent or a string,
    never null (a client sending `If-Match: null` would be told the schema allowed it)."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) != 1 or len(branches) == len(schema["anyOf"]):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**branches[0], **rest}


def describe_parameters(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                term = PARAMETERS.get(f"{parameter['in']}:{parameter['name']}")
                if parameter["in"] == "header":
                    parameter["schema"] = _never_null(parameter["schema"])
                schema = parameter["schema"]
                if term is not None and term.description:
                    parameter.setdefault("description", term.description)
                if "examples" not in schema:
                    example = term.example if term else None
                    _give_example(schema, example, _enum(schema, schemas))


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI or AsyncAPI document with the vocabulary's descriptions and examples (a
    copy: the schemas it was built from may be shared constants)."""
    document = copy.deepcopy(document)
    describe_schemas(document.get("components", {}).get("schemas", {}))
    if "openapi" in document:
        describe_parameters(document.get("paths", {}), document["components"]["schemas"])
    return document
