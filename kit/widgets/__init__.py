"""The widgets: may import kit.core, kit.teaching, kit.classroom and ipywidgets/bqplot/numpy.

The interactive pieces every notebook is built from (ipywidgets 8 + bqplot).  Each widget is
an ipywidgets container a cell can display, constructible with no arguments (a default scenario)
or with a ``kit.Zone``, and takes ``presenter=True`` for a projector.  The widgets follow a zone
through its events (``zone.subscribe``), never by polling, and everything random is seeded, so a
demo replays identically.  The core (``kit.core``) never imports ipywidgets.

``Quiz`` (a check-your-understanding question, logic in ``kit.teaching.quiz``) is exported here
too, because the lessons import it with the other widgets, and so is ``Predict``, which keeps
any of them hidden behind a question until the reader has predicted (answers from
``kit.teaching.predict``). ``Poll`` is a ``Quiz`` that runs as a live poll of the room in a
classroom Hub (``kit.classroom``), and ``Follow`` shows students where the instructor is (so
does the slide mode, through ``kit.widgets.slidefollow``).
"""

from kit.core.extras import require_extra

require_extra("widgets", "kit.widgets")  # a missing ipywidgets/bqplot/numpy: say which extra

from .animator import ExactAllocationAnimator
from .follow import Follow
from .free_area import FreeAreaChart
from .kerneltrace import KernelTraceView
from .live import LiveBuddyInfo
from .memory_map import MemoryMap
from .order_explorer import OrderExplorer
from .player import TracePlayer
from .playground import Playground
from .poll import Poll
from .practice import Practice
from .predict import Predict
from .quiz import Quiz
from .slidefollow import listen_to_slides
from .wastage_curve import WastageCurve

__all__ = [
    "ExactAllocationAnimator",
    "Follow",
    "FreeAreaChart",
    "KernelTraceView",
    "LiveBuddyInfo",
    "MemoryMap",
    "OrderExplorer",
    "Playground",
    "Poll",
    "Practice",
    "Predict",
    "Quiz",
    "TracePlayer",
    "WastageCurve",
]

# A slide-mode kernel (kit present --slides) publishes its slide to a classroom; elsewhere a no-op.
listen_to_slides()
