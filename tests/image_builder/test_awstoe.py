"""The AWSTOE shape check rejects what AWSTOE would reject."""

from __future__ import annotations

import pytest

from pitstop.image_builder.awstoe import check_component

GOOD = """
name: demo
schemaVersion: 1.0
parameters:
  - Where:
      type: string
      default: /tmp
phases:
  - name: build
    steps:
      - name: Hello
        action: ExecuteBash
        inputs:
          commands: ["echo {{ Where }}"]
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["true"]
"""


def test_good_document_has_no_problems() -> None:
    assert check_component(GOOD) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'action: ExecuteBash\n        inputs:\n          commands: ["echo',
            'action: RunShell\n        inputs:\n          commands: ["echo',
            "unknown action 'RunShell'",
        ),
        ('commands: ["true"]', 'command: ["true"]', "'commands'"),
        ("{{ Where }}", "{{ Elsewhere }}", "{{ Elsewhere }} is not a declared parameter"),
        ("name: validate", "name: deploy", "unknown phase 'deploy'"),
        ("schemaVersion: 1.0", "schemaVersion: 2.0", "schemaVersion must be 1.0"),
        ("name: Hello", "name: Hello World", "bad step name"),
        ("type: string", "type: integer", "type must be string"),
    ],
)
def test_bad_documents_are_named(old: str, new: str, problem: str) -> None:
    assert old in GOOD
    problems = check_component(GOOD.replace(old, new, 1))
    assert any(problem in p for p in problems), problems


def test_s3download_inputs_must_be_a_list_of_source_destination() -> None:
    doc = GOOD.replace(
        'action: ExecuteBash\n        inputs:\n          commands: ["echo {{ Where }}"]',
        "action: S3Download\n        inputs:\n          source: s3://b/k\n",
        1,
    )
    assert any("non-empty list" in p for p in check_component(doc))


def test_not_yaml() -> None:
    assert check_component("phases: [")[0].startswith("not YAML")
