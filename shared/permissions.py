"""Who may call what: the one table of role x operation.

Every `/v1` route is looked up here when its service's router is built (an operation missing
from the table stops the service from starting), and its roles are checked before its body is
read or parsed: a caller without a token gets 401, a role not listed 403, whatever the body.
Row-level ownership (an employee sees the rows they are a party to) is the use cases' part,
through `shared.access`; this table says which kinds of caller may ask at all.

Least privilege: hris pushes employee events and reads nothing; admins act as admins (what a
party does in a relationship, rating it, answering its surveys, writing its agreement or its
private notes, is the employees' own); `PUBLIC` operations carry their own secret (a calendar
feed's token) and no bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.auth import Role

Roles = frozenset[Role]

PUBLIC: Roles = frozenset()  # no bearer token: the operation checks its own secret
ADMIN: Roles = frozenset({Role.admin})
EMPLOYEE: Roles = frozenset({Role.employee})
HRIS: Roles = frozenset({Role.hris})
ADMIN_OR_EMPLOYEE: Roles = frozenset({Role.admin, Role.employee})

PERMISSIONS: Mapping[str, Roles] = {
    # enrollment
    "POST /v1/hris/events": HRIS | ADMIN,
    "POST /v1/hris/employees/import": HRIS | ADMIN,
    "GET /v1/employees": ADMIN,
    "POST /v1/scim-credentials": ADMIN,
    "GET /v1/scim-credentials": ADMIN,
    "DELETE /v1/scim-credentials/{credential_id}": ADMIN,
    "GET /v1/employees/{employee_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/employees/{employee_id}/erasure": ADMIN,
    "POST /v1/programs": ADMIN,
    "GET /v1/programs": ADMIN_OR_EMPLOYEE,
    "GET /v1/programs/{program_id}": ADMIN_OR_EMPLOYEE,
    "PATCH /v1/programs/{program_id}": ADMIN,
    "POST /v1/programs/{program_id}/status": ADMIN,
    "POST /v1/participants": ADMIN_OR_EMPLOYEE,
    "POST /v1/participants/batch": ADMIN,
    "POST /v1/participants/import": ADMIN,
    "GET /v1/participants": ADMIN_OR_EMPLOYEE,
    "GET /v1/participants/{participant_id}": ADMIN_OR_EMPLOYEE,
    "PATCH /v1/participants/{participant_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/participants/{participant_id}/approve": ADMIN,
    "POST /v1/participants/{participant_id}/reject": ADMIN,
    "POST /v1/participants/{participant_id}/withdraw": ADMIN_OR_EMPLOYEE,
    # matching
    "POST /v1/matching-runs": ADMIN,
    "GET /v1/matching-runs/{run_id}": ADMIN,
    "POST /v1/matching-runs/{run_id}/publish": ADMIN,
    "GET /v1/matching-runs/{run_id}/pairs": ADMIN,
    "GET /v1/suggestions": ADMIN_OR_EMPLOYEE,
    "GET /v1/matches": ADMIN_OR_EMPLOYEE,
    "GET /v1/matches/{match_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/matches/{match_id}/accept": ADMIN_OR_EMPLOYEE,
    "POST /v1/matches/{match_id}/decline": ADMIN_OR_EMPLOYEE,
    "POST /v1/matches/{match_id}/complete": ADMIN_OR_EMPLOYEE,
    "POST /v1/matches/{match_id}/end": ADMIN_OR_EMPLOYEE,
    "GET /v1/waiting-list": ADMIN,
    "POST /v1/mentor-requests": ADMIN_OR_EMPLOYEE,
    "GET /v1/mentor-requests": ADMIN_OR_EMPLOYEE,
    "GET /v1/mentor-requests/{request_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/mentor-requests/{request_id}/accept": ADMIN_OR_EMPLOYEE,
    "POST /v1/mentor-requests/{request_id}/decline": ADMIN_OR_EMPLOYEE,
    "POST /v1/mentor-requests/{request_id}/withdraw": ADMIN_OR_EMPLOYEE,
    # sessions
    "POST /v1/sessions": ADMIN_OR_EMPLOYEE,
    "GET /v1/sessions": ADMIN_OR_EMPLOYEE,
    "GET /v1/sessions/{session_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/sessions/{session_id}/complete": ADMIN_OR_EMPLOYEE,
    "POST /v1/sessions/{session_id}/reschedule": ADMIN_OR_EMPLOYEE,
    "POST /v1/sessions/{session_id}/no-show": ADMIN_OR_EMPLOYEE,
    "POST /v1/sessions/{session_id}/cancel": ADMIN_OR_EMPLOYEE,
    "PUT /v1/sessions/{session_id}/agenda": ADMIN_OR_EMPLOYEE,
    "POST /v1/sessions/{session_id}/notes": EMPLOYEE,
    "GET /v1/sessions/{session_id}/notes": EMPLOYEE,
    "GET /v1/mentoring-hours": ADMIN_OR_EMPLOYEE,
    "POST /v1/group-sessions": ADMIN_OR_EMPLOYEE,
    "GET /v1/group-sessions/{group_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/group-sessions/{group_id}/complete": ADMIN_OR_EMPLOYEE,
    "POST /v1/group-sessions/{group_id}/reschedule": ADMIN_OR_EMPLOYEE,
    "POST /v1/group-sessions/{group_id}/cancel": ADMIN_OR_EMPLOYEE,
    "POST /v1/calendar-feeds": ADMIN_OR_EMPLOYEE,
    "GET /v1/calendar-feeds": ADMIN_OR_EMPLOYEE,
    "POST /v1/calendar-feeds/{feed_id}/revoke": ADMIN_OR_EMPLOYEE,
    "GET /v1/calendar/{token}.ics": PUBLIC,
    "PUT /v1/agreements/{match_id}": EMPLOYEE,
    "GET /v1/agreements/{match_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/agreements/{match_id}/confirm": EMPLOYEE,
    "POST /v1/agreements/{match_id}/goals/{goal_id}/progress": EMPLOYEE,
    "POST /v1/agreements/{match_id}/goals/{goal_id}/milestones/{milestone_id}/reach": EMPLOYEE,
    "POST /v1/assessments": EMPLOYEE,
    "GET /v1/assessments": ADMIN_OR_EMPLOYEE,
    "GET /v1/skill-progress/{match_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/community-events": ADMIN,
    "GET /v1/community-events": ADMIN_OR_EMPLOYEE,
    "GET /v1/community-events/{event_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/community-events/{event_id}/register": EMPLOYEE,
    "POST /v1/community-events/{event_id}/withdraw": EMPLOYEE,
    "POST /v1/community-events/{event_id}/cancel": ADMIN,
    "POST /v1/community-events/{event_id}/attendance": ADMIN,
    "POST /v1/community-events/{event_id}/feedback": EMPLOYEE,
    "GET /v1/community-events/{event_id}/registrations": ADMIN,
    # feedback
    "POST /v1/feedback": EMPLOYEE,
    "GET /v1/feedback": ADMIN_OR_EMPLOYEE,
    "GET /v1/feedback/{feedback_id}": ADMIN_OR_EMPLOYEE,
    "GET /v1/relationships": ADMIN,
    "GET /v1/relationships/{match_id}/health": ADMIN_OR_EMPLOYEE,
    "GET /v1/surveys": ADMIN_OR_EMPLOYEE,
    "GET /v1/surveys/{survey_id}": ADMIN_OR_EMPLOYEE,
    "POST /v1/surveys/{survey_id}/answers": EMPLOYEE,
    "GET /v1/cases": ADMIN,
    "GET /v1/cases/{case_id}": ADMIN,
    "POST /v1/cases/{case_id}/actions": ADMIN,
    "POST /v1/cases/{case_id}/training/complete": ADMIN_OR_EMPLOYEE,
    # reporting
    "GET /v1/reports/erasures/{erasure_id}": ADMIN,
    "GET /v1/reports/programs/{program_id}": ADMIN,
    "GET /v1/reports/relationships/{match_id}": ADMIN,
    "GET /v1/reports/programs/{program_id}/kpis": ADMIN,
    "GET /v1/reports/kpis": ADMIN,
    "GET /v1/reports/programs/{program_id}/trends": ADMIN,
    "GET /v1/reports/trends": ADMIN,
    "GET /v1/reports/programs/{program_id}/exports/{table}": ADMIN,
    "POST /v1/reports/dashboard-links": ADMIN,
    "GET /v1/reports/dashboards/{token}": PUBLIC,  # the link's secret
    "GET /v1/reports/assets/plotly.min.js": PUBLIC,  # a public library
    "POST /v1/recognition/badge-rules": ADMIN,
    "GET /v1/recognition/badge-rules": ADMIN,
    "POST /v1/recognition/kudos": EMPLOYEE,  # a party of the relationship
    "GET /v1/recognition/employees/{employee_id}": ADMIN_OR_EMPLOYEE,  # employees: their own
    "GET /v1/recognition/employees/{employee_id}/certificate": ADMIN_OR_EMPLOYEE,
    "POST /v1/webhooks": ADMIN,
    "GET /v1/webhooks": ADMIN,
    "GET /v1/webhooks/{endpoint_id}": ADMIN,
    "PATCH /v1/webhooks/{endpoint_id}": ADMIN,
    "DELETE /v1/webhooks/{endpoint_id}": ADMIN,
    "POST /v1/webhooks/{endpoint_id}/secret/rotate": ADMIN,
    "GET /v1/webhooks/{endpoint_id}/deliveries": ADMIN,
    "GET /v1/webhooks/{endpoint_id}/deliveries/{delivery_id}": ADMIN,
    "POST /v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay": ADMIN,
    "POST /v1/webhooks/{endpoint_id}/recover": ADMIN,
}


def roles_for(method: str, path: str) -> Roles:
    """The roles allowed to call `method path` (a route's template); LookupError if the
    operation is not in the table, so a new route cannot go live without a decision."""
    key = f"{method} {path}"
    try:
        return PERMISSIONS[key]
    except KeyError:
        raise LookupError(f"{key} is not in shared/permissions.py: say who may call it") from None
