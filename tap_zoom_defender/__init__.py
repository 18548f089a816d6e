"""Zoom users, sign-in activity and admin audit logs for Microsoft security tooling."""
