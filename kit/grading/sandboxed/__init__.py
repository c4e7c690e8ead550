"""UNTRUSTED, inside the grading sandbox: imports kit.core and kit.grading.boundary only.

This code runs beside a student's answer cells.  Nothing here decides a grade.  The worker runs
the answer cells and calls the student's functions when the grader asks, and answers with plain
data (:mod:`kit.grading.boundary.wire`).  A student's code shares this process and can change
anything in it, so everything it sends back is treated by the grader as the student's own
claim: return values, and the list of calls the student's code made on a zone, which the grader
replays on its own zone.
"""
