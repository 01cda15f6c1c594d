"""Which funnel each team's new deals go to.

A funnel file may hold several funnels (new clients, repeat sales). The one marked
`default: true` serves every team until a lead (or an admin) picks another for the team.
Changing it moves no deal: each deal stays in the funnel it was created in.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.session import Session, SessionFactory, transaction
from bot.deals import store
from bot.deals.funnel import Funnel, FunnelConfig
from bot.deals.store import TeamRow
from bot.people.service import Person


@dataclass(frozen=True, slots=True)
class TeamFunnel:
    team_id: int
    team: str
    funnel: Funnel
    chosen: bool  # False: the team uses the file's default funnel


class TeamFunnelsService:
    def __init__(self, db: SessionFactory, funnels: FunnelConfig) -> None:
        self._db = db
        self.funnels = funnels

    async def teams(self, actor: Person) -> list[TeamFunnel]:
        """The teams whose funnel this person may see: an admin all, anyone else their own."""
        if not actor.is_admin and actor.team_id is None:
            raise Invalid("funnel.no_team")
        async with transaction(self._db) as session:
            found = await store.teams(session, None if actor.is_admin else actor.team_id)
        return [self._view(team) for team in found]

    async def choose(self, actor: Person, team_id: int, funnel_key: str) -> TeamFunnel:
        """A lead for their own team, an admin for any team."""
        if not (actor.is_admin or (actor.is_lead and actor.team_id == team_id)):
            raise Forbidden("funnel.lead_only")
        if funnel_key not in {funnel.key for funnel in self.funnels.funnels}:
            raise Invalid("funnel.unknown", funnel=funnel_key)
        async with transaction(self._db) as session:
            team = await store.set_team_funnel(session, team_id, funnel_key)
        if team is None:
            raise NotFound("team.not_found")
        return self._view(team)

    def _view(self, team: TeamRow) -> TeamFunnel:
        funnel = self.funnels.of_team(team.funnel)
        return TeamFunnel(team.id, team.name, funnel, chosen=funnel.key == team.funnel)


async def team_funnel(session: Session, funnels: FunnelConfig, team_id: int | None) -> Funnel:
    """The funnel a team's new deals go to, inside a caller's transaction."""
    if team_id is None:
        return funnels.default
    return funnels.of_team(await store.team_funnel_key(session, team_id))
