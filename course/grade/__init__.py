"""The hardened grader: a batch's submissions read, each run in a locked-down student process
and judged against the plan, one typed ``Result`` each, whatever the submission does.  Ships in
every autograder zip (its engine), so it needs nothing from the LMS or output layers."""
