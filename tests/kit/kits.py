"""Conformance-kit subclasses for the test agencies (not named Test*: the broken ones are run one check at
a time by the tests, not collected as suites)."""

from __future__ import annotations

import json

from prasan.testing import PluginConformance, Sample
from tests.kit import agencies

PROJECT = {
    "entity_type": "plan_project",
    "org_code": "5400103",
    "project_code": "5400103-2568-001",
    "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านเป็ด-บ้านโนนท่อน",
}
SAMPLE = Sample(json.dumps(agencies.SEED, ensure_ascii=False).encode(), "application/json")


class ProjectsKit(PluginConformance):
    system = agencies.Projects
    samples = [SAMPLE]
    entities = [("plan_project", PROJECT)]


class RaisingProjectsKit(ProjectsKit):
    system = agencies.RaisingProjects


class BatchProjectsKit(ProjectsKit):
    system = agencies.BatchProjects
    samples = []


class ProjectReaderKit(PluginConformance):
    system = agencies.ProjectReader
