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


def test_quiz_widget_gives_feedback_as_soon_as_a_choice_is_made():
    from kit.widgets import Quiz

    quiz = Quiz("Order of 4097 bytes?", ["0", "1"], answer=1, explanation="two pages: 2**1")
    assert quiz.question.answer == "1"
    assert quiz.feedback.value == ""
    quiz.choices.value = "0"
    assert "✘ Not quite: two pages: 2**1" in quiz.feedback.value
    quiz.choices.value = "1"
    assert "✔ Right: two pages: 2**1" in quiz.feedback.value


def test_quiz_widget_refuses_an_answer_position_out_of_range():
    from kit.widgets import Quiz

    with pytest.raises(InvalidArgument, match="answer 2 is not a position"):
        Quiz("q", ["a", "b"], answer=2, explanation="e")
