"""What a graded batch becomes for people: the gradebook, students' feedback pages, the class
report and its similarity check."""
