"""Administrative areas and the organisations whose people visit."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from carevisit.storage.enums import AreaLevel, OrganisationKind
from carevisit.storage.types import enum_type


class Area(SQLModel, table=True):
    """province > city > district > street/township > community/village.

    `path` holds the codes from the root ("/44/4403/440305/"), so an area's subtree is a prefix match.
    """

    __tablename__ = "areas"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    level: AreaLevel = Field(sa_type=enum_type(AreaLevel))
    parent_id: int | None = Field(default=None, foreign_key="areas.id", index=True)
    path: str = Field(max_length=400, index=True)


class Organisation(SQLModel, table=True):
    """A social organisation, care institution, day-care centre or community team that volunteers belong to."""

    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: OrganisationKind = Field(default=OrganisationKind.SOCIAL_ORGANISATION, sa_type=enum_type(OrganisationKind))
    area_id: int | None = Field(default=None, foreign_key="areas.id")
