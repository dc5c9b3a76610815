"""The operators' desk: the admin site itself, its dashboard, and the operator and auditor roles."""
