"""The kit passes correct plugins, collected as a plugin's own tests would be: one written a record per
request, one that raises TransientError (and the other contract errors) instead of answering results, a
batch writer (the kit writes two items at least) and a read-only system (status checks go through read)."""

from __future__ import annotations

from tests.kit.kits import BatchProjectsKit, ProjectReaderKit, ProjectsKit, RaisingProjectsKit


class TestProjects(ProjectsKit):
    pass


class TestRaisingProjects(RaisingProjectsKit):
    pass


class TestBatchProjects(BatchProjectsKit):
    pass


class TestProjectReader(ProjectReaderKit):
    pass
