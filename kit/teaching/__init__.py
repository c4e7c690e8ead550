"""The teaching logic: imports kit.core only (no widgets, no Jupyter).

Practice problems and how answers are read and marked (:mod:`.practice`), predictions
(:mod:`.predict`), quizzes (:mod:`.quiz`, :mod:`.quiz_bank`), the lessons' scenarios
(:mod:`.scenarios`) and the fragmentation report (:mod:`.report`).  The widgets show them.
"""
