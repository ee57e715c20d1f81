"""The personal-data block every Vietnamese form carries, read wherever it appears.

A form no definition matches is read with the generic identity definition
(``extraction/generic/identity.yaml``). A form a definition does match can still print its
person's data under labels the definition does not list (another edition of the form, a
petition typed as an application letter): a field of the definition that holds one of those
data and whose own labels were not found takes the value the generic labels find.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from extraction.doctypes import DoctypeDef, generic_identity
from extraction.fields import extract_fields

if TYPE_CHECKING:
    from extraction.layout import Row
    from models.records import ExtractedField

__all__ = ["IDENTITY_FIELDS", "identity_roles", "fill_identity"]

IDENTITY_FIELDS = ("full_name", "date_of_birth", "citizen_id", "residence")

# Which of several address fields is the person's residence.
_RESIDENCE_NAMES = ("residence", "permanent_residence", "place_of_residence", "address")


def identity_roles(doctype: DoctypeDef) -> dict[str, str]:
    """The fields of ``doctype`` that hold its person's identity data, by generic field name.

    Only a document about one person has them: the one person-name field, the one citizen-ID
    field, the field named ``date_of_birth``, and the one address (or the one named as the
    residence). A form about several people (a marriage, a birth) has none."""
    fields = doctype.fields
    names = [f for f in fields if f.type == "person_name"]
    ids = [f for f in fields if f.citizen and f.type == "citizen_id"]
    if len(names) > 1 or len(ids) > 1:
        return {}
    roles: dict[str, str] = {}
    if names:
        roles["full_name"] = names[0].name
    if ids:
        roles["citizen_id"] = ids[0].name
    dob = doctype.field("date_of_birth")
    if dob is not None and dob.type == "date":
        roles["date_of_birth"] = "date_of_birth"
    addresses = [f.name for f in fields if f.type == "address"]
    if len(addresses) == 1:
        roles["residence"] = addresses[0]
    else:
        named = [n for n in _RESIDENCE_NAMES if n in addresses]
        if named:
            roles["residence"] = named[0]
    return roles


def fill_identity(doctype: DoctypeDef, fields: list[ExtractedField], rows: list[Row]) -> None:
    """Identity fields of ``doctype`` that found no value take what the personal-data block's
    generic labels find in ``rows``. Such a value was read by guesswork and is never accepted
    unseen (``generic`` evidence)."""
    roles = identity_roles(doctype)
    at = {f.name: i for i, f in enumerate(fields)}
    wanted = {g: n for g, n in roles.items() if n in at and fields[at[n]].value is None}
    if not wanted:
        return
    generic = generic_identity()
    types = {f.name: f.type for f in doctype.fields}
    for g in extract_fields(generic, rows):
        name = wanted.get(g.name)
        gdef = generic.field(g.name)
        if name is None or g.value is None or gdef is None or types.get(name) != gdef.type:
            continue
        target = fields[at[name]]
        found = g.model_copy(update={"name": target.name, "label": target.label})
        found._evidence = {**g._evidence, "generic": 1.0}
        fields[at[name]] = found
