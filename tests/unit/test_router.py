"""Routes: which destinations a changed entity reaches, and what a route file may not say."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.plugin_manager import load_plugins
from core.router import Router
from core.store.records import IncomingEntity

ORGS = {
    "5500101": {"org_type": "subdistrict_municipality", "province_code": "55"},
    "6500102": {"org_type": "subdistrict_admin_org", "province_code": "65"},
}


def entity(org_code: str, entity_type: str = "plan_project", fiscal_year: int | None = 2568) -> IncomingEntity:
    return IncomingEntity(1, entity_type, "x", org_code, fiscal_year, {}, "0" * 64)


def router(*routes: dict) -> Router:
    return Router.from_data({"routes": list(routes)}, ORGS.get)


def test_filters_by_province_org_type_and_year() -> None:
    r = router(
        {
            "name": "nan-only",
            "source": "eplan",
            "entity_types": ["plan_project"],
            "destinations": ["elaas"],
            "filters": {"provinces": ["55"], "fiscal_years": [2568]},
        }
    )
    assert [d.system for d in r.destinations("eplan", entity("5500101"))] == ["elaas"]
    assert r.destinations("eplan", entity("6500102")) == []
    assert r.destinations("eplan", entity("5500101", fiscal_year=2567)) == []
    assert r.destinations("eplan", entity("5500101", entity_type="budget_line")) == []
    assert r.destinations("elaas", entity("5500101")) == []


def test_paused_routes_and_destinations_hold_their_deliveries() -> None:
    # Held, not dropped: a change made during a pause is delivered after the resume (decision 0007).
    base = {"name": "r", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"]}
    [held] = router({**base, "paused": True}).destinations("eplan", entity("5500101"))
    assert (held.system, held.held) == ("elaas", True)
    [held] = router({**base, "paused_destinations": ["elaas"]}).destinations("eplan", entity("5500101"))
    assert held.held
    [sent] = router(base).destinations("eplan", entity("5500101"))
    assert not sent.held


def test_a_route_that_sends_wins_over_a_paused_one() -> None:
    paused = {"name": "a", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"], "paused": True}
    active = {**paused, "name": "b", "paused": False}
    [only] = router(paused, active).destinations("eplan", entity("5500101"))
    assert (only.route_name, only.held) == ("b", False)


def test_replacing_the_table_applies_to_the_next_entity() -> None:
    base = {"name": "r", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"]}
    r = router(base)
    from core.router import Route

    r.replace([Route.model_validate({**base, "entity_types": ["budget_line"]})])
    assert r.destinations("eplan", entity("5500101")) == []
    assert r.get("r") is not None and r.get("nope") is None


def test_one_destination_once_even_when_two_routes_name_it() -> None:
    a = {"name": "a", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"], "max_attempts": 3}
    b = {**a, "name": "b", "max_attempts": 9}
    [only] = router(a, b).destinations("eplan", entity("6500102"))
    assert (only.route_name, only.max_attempts) == ("a", 3)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"source": "nowhere"}, "unknown source"),
        ({"destinations": ["nowhere"]}, "unknown destination"),
        ({"destinations": ["eplan"]}, "its own destination"),
        ({"entity_types": ["disbursement"]}, "cannot write"),
    ],
)
def test_routes_are_checked_against_the_installed_systems(route: dict, message: str) -> None:
    base = {"name": "r", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"]}
    with pytest.raises(ConfigError, match=message):
        router({**base, **route}).check_against(load_plugins().systems)


def test_malformed_route_files_are_configuration_errors() -> None:
    with pytest.raises(ConfigError):
        Router.from_data({"routes": [{"name": "Bad Name!", "source": "eplan"}]})
    with pytest.raises(ConfigError, match="unique"):
        router(
            {"name": "a", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"]},
            {"name": "a", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["elaas"]},
        )
