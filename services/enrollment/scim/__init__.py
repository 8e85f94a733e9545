"""SCIM 2.0 provisioning (RFC 7643, RFC 7644) of enrollment's employee directory.

An identity provider (Okta, Entra ID, ...) creates, updates, deactivates and deletes users at
`/scim/v2/Users`; each change is the same HRIS event a push would be (create = hired,
`active: false` = terminated, ...), so matching, sessions and reporting hear of it the same
way. The protocol (discovery, filters, PATCH, ETags, errors) is scim2-server's; this package
is its storage (`storage`), the mapping of a SCIM user onto a directory record (`mapping`),
filters turned into SQL (`filters`), the per-organisation bearer credentials (`models`,
`usecases`) and the routes (`api`).
"""
