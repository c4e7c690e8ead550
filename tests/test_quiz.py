import pytest

from kit import InvalidArgument
from kit.quiz import Question


def question():
    return Question(
        "What order does a 132 KiB request get with 4 KiB pages?",
        ("5", "6", "7"),
        "6",
        "33 pages round up to 64 pages, 2**6.",
        why=(("7", "order 7 is 512 KiB: the book's erratum."),),
    )


def test_right_choice_is_confirmed_with_the_reason():
    feedback = question().check("6")
    assert feedback.correct
    assert feedback.message == "Right: 33 pages round up to 64 pages, 2**6."


def test_wrong_choice_gets_its_own_explanation_or_the_general_one():
    assert question().check("7").message == "Not quite: order 7 is 512 KiB: the book's erratum."
    feedback = question().check("5")
    assert not feedback.correct
    assert "64 pages" in feedback.message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"choices": ("a",), "answer": "a"}, "at least two choices"),
        ({"choices": ("a", "b"), "answer": "c"}, "not one of the choices"),
        ({"choices": ("a", "b"), "answer": "a", "why": (("z", "?"),)}, "do not exist"),
    ],
)
def test_badly_written_questions_are_refused(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        Question("q", explanation="e", **kwargs)


def test_unknown_choice_is_refused():
    with pytest.raises(InvalidArgument, match="not one of the choices"):
        question().check("8")
