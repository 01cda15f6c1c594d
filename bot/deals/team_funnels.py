"""Which funnel each team's new deals go to.

A funnel file may hold several funnels (new clients, repeat sales). The one marked
`default: true` serves every team until a lead (or an admin) picks another for the team.
Changing it moves no deal: each deal stays in the funnel it was created in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.models import Team
from bot.db.session import transaction
from bot.deals.funnel import Funnel, FunnelConfig
from bot.people.service import Person


@dataclass(frozen=True, slots=True)
class TeamFunnel:
    team_id: int
    team: str
    funnel: Funnel
    chosen: bool  # False: the team uses the file's default funnel


class TeamFunnelsService:
    def __init__(self, db: async_sessionmaker[AsyncSession], funnels: FunnelConfig) -> None:
        self._db = db
        self.funnels = funnels

    async def teams(self, actor: Person) -> list[TeamFunnel]:
        """The teams whose funnel this person may see: an admin all, anyone else their own."""
        query = select(Team).order_by(Team.name)
        if not actor.is_admin:
            if actor.team_id is None:
                raise Invalid("funnel.no_team")
            query = query.where(Team.id == actor.team_id)
        async with transaction(self._db) as session:
            return [self._view(team) for team in await session.scalars(query)]

    async def choose(self, actor: Person, team_id: int, funnel_key: str) -> TeamFunnel:
        """A lead for their own team, an admin for any team."""
        if not (actor.is_admin or (actor.is_lead and actor.team_id == team_id)):
            raise Forbidden("funnel.lead_only")
        if funnel_key not in {funnel.key for funnel in self.funnels.funnels}:
            raise Invalid("funnel.unknown", funnel=funnel_key)
        async with transaction(self._db) as session:
            team = await session.get(Team, team_id)
            if team is None:
                raise NotFound("team.not_found")
            team.funnel = funnel_key
            return self._view(team)

    def _view(self, team: Team) -> TeamFunnel:
        funnel = self.funnels.of_team(team.funnel)
        return TeamFunnel(team.id, team.name, funnel, chosen=funnel.key == team.funnel)


async def team_funnel(session: AsyncSession, funnels: FunnelConfig, team_id: int | None) -> Funnel:
    """The funnel a team's new deals go to, inside a caller's transaction."""
    if team_id is None:
        return funnels.default
    return funnels.of_team(await session.scalar(select(Team.funnel).where(Team.id == team_id)))
