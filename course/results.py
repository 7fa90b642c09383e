"""What grading one submission produces, typed until it is written: ``Result`` with its
``CaseResult``s and its ``Status``, and their JSON form (``to_record``/``from_record``), which
is what ``results/<key>.json`` holds and what a resumed batch or ``course report`` reads."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

from course.identity import Identity


class Status(str, enum.Enum):
    """How a submission's grading went (the gradebook's ``status`` column)."""

    OK = "ok"
    CELL_ERRORS = "cell errors"  # some cells raised; graded anyway
    MISSING_FUNCTION = "missing function"  # a graded function is not defined
    TIMEOUT = "timeout"  # the notebook or a call ran out of time
    CRASHED = "crashed"  # the student process died (a signal, an exit, a closed channel)
    PROTOCOL = "protocol violation"  # the student process sent something that is not an answer
    NOT_A_NOTEBOOK = "not a notebook"  # unreadable, malformed, or not a notebook at all
    GRADER_ERROR = "grader error"  # the grader itself failed: not the student's doing

    def __str__(self) -> str:
        return self.value


@dataclass
class CaseResult:
    question: str
    case: str  # the case's id in the plan
    label: str
    points: float
    max_points: float
    hidden: bool
    message: str = ""  # empty when passed

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


@dataclass
class Result:
    """One submission, graded."""

    key: str  # unique in the batch and safe as a file name
    source: str  # the file's path in the submissions folder or zip
    identity: Identity = field(default_factory=Identity)  # who the file belongs to, as collect read it
    status: Status = Status.OK
    detail: str = ""
    language: str = "en"
    language_detected: bool = False  # metadata.course was lost: the language was read from the notebook's text
    cases: list[CaseResult] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # for the instructor: cell errors, sandbox notes
    cell_errors: list[dict] = field(default_factory=list)  # for the student: protocol.CellError, numbered among code cells
    seconds: float = 0.0
    digest: str = ""  # of the submission and the autograder: a resumed batch skips what it has
    protections_missing: list[str] = field(default_factory=list)  # as the sandbox measured them, before any student code
    code: dict[str, str] = field(default_factory=dict)  # graded function -> its source, for the similarity check

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cases)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cases)

    def question_scores(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for c in self.cases:
            scores[c.question] = scores.get(c.question, 0) + c.points
        return scores

    def to_record(self) -> dict:
        record = asdict(self)
        record.update(status=self.status.value, score=self.score, max_score=self.max_score,
                      questions=self.question_scores(), seconds=round(self.seconds, 3))
        return record

    @classmethod
    def from_record(cls, record: dict) -> "Result":
        """The result ``to_record`` wrote; a record written before identity was its own object
        (flat ``student``, ``name``, ``late``, ``file``) loads with those (its LMS unknown)."""
        fields = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        fields["status"] = Status(fields.get("status", "ok"))
        fields["cases"] = [CaseResult(**c) for c in record.get("cases", [])]
        if isinstance(record.get("identity"), dict):
            fields["identity"] = Identity(**record["identity"])
        else:
            fields["identity"] = Identity(student=str(record.get("student", "")), name=str(record.get("name", "")),
                                          late=bool(record.get("late", False)), file=str(record.get("file", "")))
        return cls(**fields)
