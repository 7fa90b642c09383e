"""Learning management systems: the class list beside a download (``roster``), one row per
student (``students``), and the grade files Canvas and Moodle import as they are (``canvas``,
``moodle``), or Canvas's REST API (``canvas_push``).  Who a file belongs to is read earlier,
once, when a batch is collected (``course.identity``)."""
