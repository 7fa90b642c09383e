"""``course build``: from each assignment's one source (reference, questions, prose) to what
students, otter and the LMS get (notebooks in both editions, public tests, plans, zips)."""
