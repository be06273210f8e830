"""Schemathesis against the served API: generated requests, valid and not, never get a 5xx.

Each operation of the OpenAPI document gets requests generated from its schema — within it and
deliberately outside it — sent with a clerk's token to gunicorn serving a seeded database. Every
answer must be no server error, of the documented content type, and conform to the documented
response schema. FUZZ_EXAMPLES sets the examples per operation (bench/bench_concurrency.py's
`--fuzz` runs the long form: thousands of requests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config import REPO_ROOT
from decisionflow.registry import DefinitionRegistry
from tests.conftest import PASSWORD, _empty_postgres, settings_for
from tests.system.conftest import create_sqlite_database
from tests.system.contention import seed_site, serving
from web.openapi import openapi_document

#: examples per operation and database: the short form fits CI; raise it for the long form
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))

schema = schemathesis.openapi.from_dict(openapi_document())
#: what every answer must be. Not asked: that a request outside the schema is refused — the API
#: is lenient where that serves its callers (a page size past 100 is read as 100).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


#: the seeded decisions (ids 1 to DECISIONS), and the moves and records of the procedure
DECISIONS = 3
_PROCEDURE = DefinitionRegistry.from_folder(REPO_ROOT / "workflows").current("major_decision")
REAL = {
    "decision_id": st.integers(1, DECISIONS),
    "trigger": st.sampled_from(sorted(_PROCEDURE.triggers)),
    "kind": st.sampled_from(sorted(_PROCEDURE.records)),
}


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Half the time, name a decision that exists and a move or record the procedure has:
    the generated bodies then reach the rules, not only "no such decision"."""
    if not path_parameters:
        return st.just(path_parameters)
    real = st.fixed_dictionaries(
        {name: REAL.get(name, st.just(value)) for name, value in path_parameters.items()}
    )
    return st.one_of(st.just(path_parameters), real)


@dataclass(frozen=True)
class Target:
    """A served API and the token to call it with."""

    base_url: str
    headers: dict[str, str]
    #: answers received, by status
    answers: dict[int, int]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """gunicorn serving a seeded database: people of every role, decisions, a clerk's token."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    instance = folder / "instance"
    if request.param == "postgresql":
        url: str = request.getfixturevalue("system_postgres_database")
        _empty_postgres(url)  # the seeded decisions are numbered from 1 again
    else:
        url = create_sqlite_database(instance)
    site = seed_site(settings_for(url, instance), decisions=DECISIONS, clients=1, password=PASSWORD)
    with serving(url, instance, log=folder / "gunicorn.log", workers=1, threads=4) as server:
        found = Target(f"{server.url}/api/v1", {"Authorization": f"Bearer {site.tokens[0]}"}, {})
        # the token signs the clerk in, so generated requests reach the API's work and not
        # only its refusal of an unknown caller
        seeded = requests.get(f"{found.base_url}/decisions/1", headers=found.headers, timeout=30)
        assert seeded.status_code == 200, seeded.text[:300]
        yield found
    answers = dict(sorted(found.answers.items()))
    print(f"\nfuzz on {request.param}: {sum(answers.values())} requests, answers {answers}")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case, target: Target) -> None:
    response = case.call(base_url=target.base_url, headers=target.headers)
    target.answers[response.status_code] = target.answers.get(response.status_code, 0) + 1
    case.validate_response(response, checks=CHECKS)
