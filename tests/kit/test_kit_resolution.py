"""How the kit finds the system it checks, and what it does when a check's inputs are missing: a
capability whose inputs are not given fails (a skip would let the plugin pass unchecked)."""

from __future__ import annotations

from typing import Any

import pytest

import plugins.elaas
from plugins.elaas import Elaas
from prasan.testing import PluginConformance
from tests.kit import agencies
from tests.kit.kits import PROJECT, ProjectReaderKit, ProjectsKit


def failure(kit: PluginConformance, check: str, *args: Any) -> str:
    with pytest.raises(pytest.fail.Exception) as caught:
        getattr(kit, check)(*args)
    return str(caught.value)


class NamedKit(PluginConformance):
    system = "no_such_system"


class ThroughItsPlugin(PluginConformance):
    system = Elaas
    plugin = plugins.elaas  # registered on its own, converters included
    entities = [
        ("plan_project", {**PROJECT, "budget_by_year": [{"fiscal_year": 2568, "amount": "1.00"}],
                          "links": {"local_programme": "อุตสาหกรรมและการโยธา"}}),
    ]


class NoEntities(ProjectsKit):
    entities = []


class NoSamples(ProjectsKit):
    samples = []


class NoSimulator(agencies.ProjectReader):
    name = "kit_no_simulator"

    @classmethod
    def simulator(cls) -> None:  # type: ignore[override]
        return None


class MissesMapOut(agencies.Projects):
    name = "kit_misses_map_out"
    map_out = agencies.RestSystem.map_out  # type: ignore[assignment]


def test_a_system_name_no_plugin_provides_fails() -> None:
    assert "no plugin provides system 'no_such_system'" in failure(NamedKit(), "test_describes_itself")


def test_a_class_is_run_through_the_plugin_given() -> None:
    ThroughItsPlugin().test_entities_map_out()  # the elaas.guid converter comes with the plugin


def test_a_class_the_registry_refuses_is_reported_with_the_refusal() -> None:
    kit = type("K", (ProjectsKit,), {"system": MissesMapOut})()
    assert "does not implement map_out()" in failure(kit, "test_describes_itself")
    message = failure(kit, "test_entities_map_out")  # the hub would not load it: no check can run it
    assert "no plugin provides system 'kit_misses_map_out'" in message and "declaration" in message


def test_a_write_system_without_entities_fails_rather_than_skips() -> None:
    assert "give `entities`" in failure(NoEntities(), "test_repeated_delivery_key_has_no_second_effect")
    assert "give `entities`" in failure(NoEntities(), "test_status_classification", "503")


def test_a_push_system_without_samples_fails_rather_than_skips() -> None:
    assert "give `samples`" in failure(NoSamples(), "test_records_map_to_valid_canonical_entities")


def test_a_read_system_without_a_simulator_fails_rather_than_skips() -> None:
    kit = type("K", (ProjectReaderKit,), {"system": NoSimulator})()
    assert "give it a simulator()" in failure(kit, "test_records_map_to_valid_canonical_entities")


def test_checks_that_do_not_apply_skip_with_their_reason() -> None:
    reader = ProjectReaderKit()
    with pytest.raises(pytest.skip.Exception, match="not written to"):
        reader.test_repeated_delivery_key_has_no_second_effect()
    with pytest.raises(pytest.skip.Exception, match="only writes"):
        type("K", (ProjectsKit,), {"system": agencies.BatchProjects})().test_map_out_round_trips_through_map_in()
