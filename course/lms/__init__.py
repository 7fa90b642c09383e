"""Learning management systems: the class list beside a download, one row per student, and the
grade files Canvas and Moodle import as they are (or Canvas's REST API)."""
