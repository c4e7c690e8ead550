"""Both sides of the grading trust boundary: imports kit.core and kit.grading.boundary only.

:mod:`.wire` is the codec of the plain data that crosses the boundary; :mod:`.checks` is the
self-check API the test cells run.  The sandboxed worker imports them, so nothing here may
import kit.grading.trusted, and this file imports nothing.
"""
