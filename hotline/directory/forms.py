"""Console forms of the directory (Flask-WTF: CSRF on every form).

The fields carry no rules of their own: `hotline.directory.service.check_agency` and
`check_volunteer` are the one validation (shared with the CSV import and the CLI), and
`show_problems` puts their messages next to the fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.fields import FileField

from hotline.directory.models import AgencyKind, ConsentWay
from hotline.i18n import t

KIND_LABELS = {
    AgencyKind.EMERGENCY: ("紧急服务(120/110/119)", "Emergency (120/110/119)"),
    AgencyKind.MEDICAL: ("医疗机构", "Medical"),
    AgencyKind.COMMUNITY_OFFICE: ("街道/社区", "Community office"),
    AgencyKind.GOVERNMENT_SERVICE: ("政务服务(如 12345)", "Government service (e.g. 12345)"),
    AgencyKind.SOCIAL_WORKER: ("社工", "Social worker"),
    AgencyKind.OTHER: ("其他", "Other"),
}
CONSENT_LABELS = {
    ConsentWay.IN_WRITING: ("书面签字", "In writing"),
    ConsentWay.IN_PERSON: ("当面口头", "In person"),
    ConsentWay.BY_PHONE: ("电话中", "By phone"),
    ConsentWay.BY_SMS: ("短信回复", "By text message"),
}


class AgencyForm(FlaskForm):
    """An agency of the directory."""

    name = StringField()
    kind = StringField()
    phone_number = StringField()
    hours = StringField()
    notes = TextAreaField()
    is_active = BooleanField(default=True)


class VolunteerForm(FlaskForm):
    """A volunteer of the roster; `elders` is the elders' numbers separated by ";"."""

    name = StringField()
    phone_number = StringField()
    district = StringField()
    languages = StringField()
    availability = StringField()
    elders = StringField()
    is_active = BooleanField(default=True)
    consented_on = StringField()
    consent_way = StringField()


class VolunteerCsvForm(FlaskForm):
    """A CSV to check (`file`), or an already checked one to import (`checked_csv`)."""

    file = FileField()
    checked_csv = HiddenField()


def form_values(form: FlaskForm) -> dict[str, str]:
    """The submitted values as the service's checks read them (a checkbox as yes/no)."""
    values = {}
    for field in form:
        if field.name == "csrf_token":
            continue
        if isinstance(field, BooleanField):
            values[field.name] = "yes" if field.data else "no"
        else:
            values[field.name] = field.data or ""
    return values


def show_problems(form: FlaskForm, problems: dict[str, tuple[str, str]]) -> None:
    """Each problem next to its field, in the viewer's language."""
    for name, message in problems.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [t(*message)]
        else:
            form.form_errors.append(t(*message))


def kind_options() -> list[tuple[str, str]]:
    """(value, label) of the agency kinds in the viewer's language."""
    return [(kind.value, t(*label)) for kind, label in KIND_LABELS.items()]


def consent_options() -> list[tuple[str, str]]:
    """(value, label) of the ways of consenting in the viewer's language."""
    return [(way.value, t(*label)) for way, label in CONSENT_LABELS.items()]
