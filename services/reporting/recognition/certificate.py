"""A participant's certificate of contribution, as a PDF (fpdf2): who, for which
organisation, as of when; hours, sessions, people accompanied and relationships, as mentor and
as mentee, per programme; the badges earned."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from services.reporting.models import ProgramView
from services.reporting.recognition.domain import Figures
from services.reporting.recognition.models import BadgeAward
from shared.contracts.enrollment import ParticipantRole

# A Unicode font when the system has one (Debian's fonts-dejavu-core, in the image): Latin,
# Greek, Cyrillic, Arabic, Hebrew... names print (not CJK, which DejaVu lacks). Without it,
# PDF's core font, which prints Latin-1 only (others become "?").
FONTS = Path("/usr/share/fonts/truetype/dejavu")


def _font(pdf: FPDF) -> tuple[str, bool]:
    regular, bold = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return "DejaVu", True
    return "Helvetica", False


def _hours(h: float) -> str:
    return f"{h:g} hour" + ("" if h == 1 else "s")


EARNED_BY = {
    "sessions_held": "{:g} sessions held",
    "hours": "{:g} hours of mentoring",
    "partners": "{:g} people accompanied",
    "relationships_completed": "{:g} relationships completed",
    "survey_score": "a survey score of {:g}/5",
}


def _line(f: Figures, role: ParticipantRole) -> str:
    people = "mentee" if role is ParticipantRole.mentor else "mentor"
    text = (
        f"{f.sessions_held} session(s) held, {_hours(f.hours)} of mentoring, "
        f"{f.partners} {people}(s), {f.relationships} relationship(s)"
    )
    if f.relationships_completed:
        text += f", {f.relationships_completed} completed"
    return text


def render(
    *,
    org: str,
    employee_id: str,
    name: str | None,
    as_of: datetime,
    parts: list[tuple[ProgramView, ParticipantRole, Figures]],
    totals: dict[ParticipantRole, Figures],
    badges: list[BadgeAward],
    programs: dict[str, str],
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title("Certificate of mentoring contribution")
    pdf.set_author("Binôme")
    pdf.set_creation_date(as_of)
    family, unicode = _font(pdf)

    def text(value: str) -> str:
        return value if unicode else value.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    width = pdf.epw

    def line(height: float, value: str, align: str = "L") -> None:
        pdf.multi_cell(width, height, text(value), align=align, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font(family, "B", 22)
    line(12, "Certificate of mentoring contribution", "C")
    pdf.ln(6)
    pdf.set_font(family, "", 12)
    line(7, "This certifies that", "C")
    pdf.set_font(family, "B", 18)
    line(10, name or employee_id, "C")
    pdf.set_font(family, "", 12)
    line(7, f"contributed to the mentoring programmes of {org}, as of {as_of:%Y-%m-%d}:", "C")
    pdf.ln(6)
    for role, label in (
        (ParticipantRole.mentor, "As mentor"),
        (ParticipantRole.mentee, "As mentee"),
    ):
        figures = totals[role]
        if not figures.relationships:
            continue
        pdf.set_font(family, "B", 13)
        line(8, f"{label}: {_line(figures, role)}")
        pdf.set_font(family, "", 11)
        for program, r, f in parts:
            if r is role:
                line(6, f"- {program.name}: {_line(f, role)}")
        pdf.ln(3)
    if badges:
        pdf.set_font(family, "B", 13)
        line(8, "Badges earned")
        pdf.set_font(family, "", 11)
        for b in badges:
            where = programs.get(b.program_id, b.program_id)
            why = EARNED_BY.get(b.metric, b.metric + " {:g}").format(b.value)
            line(6, f"- {b.badge} ({where}), {b.awarded_at:%Y-%m-%d}: {why}")
    pdf.ln(8)
    pdf.set_font(family, "", 9)
    line(5, f"Issued by Binôme for {org} on {as_of:%Y-%m-%d}.", "C")
    return bytes(pdf.output())
