"""nbgrader configuration: the course's own folder names are nbgrader's folders."""

c = get_config()  # noqa: F821  (injected by traitlets)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.course_id = "sequence-models"
# The gradebook lives beside the course, never in a submission's folder.
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Release notebooks without stored outputs, so no solution output leaks.
c.ClearOutput.enabled = True
c.Execute.timeout = 120
