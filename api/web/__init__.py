"""Pages for staff: sessions, roles, CSRF, catalogues, the review workspace."""
