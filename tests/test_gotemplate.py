"""reconcile's Go-template engine against Go's own ``text/template`` with Sprig (the gotemplate-oracle test asset).

Every template of the corpus is rendered by both with the same data and options; the outputs must be equal, and a
template Go refuses must be refused here too. Argo CD's own functions (``normalize``, ``slugify``) are not in Sprig;
their cases are below the corpus.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from reconcile.argocd._gotemplate import TemplateError, render
from reconcile.testing import find_binary

DATA: dict[str, Any] = {
    "name": "Shop-Front",
    "env": "prod",
    "replicas": 3,
    "ratio": 0.5,
    "enabled": True,
    "empty": "",
    "nothing": None,
    "list": ["a", "b", "c"],
    "numbers": [1, 2, 3],
    "map": {"b": 2, "a": 1, "nested": {"x": "y"}},
    "path": {"path": "apps/web-ui", "basename": "web-ui", "segments": ["apps", "web-ui"]},
    "cluster": {"name": "engineering-dev", "address": "https://1.2.3.4"},
}

CORPUS = [
    "plain text",
    "{{ .name }}",
    "{{.path.basename}}",
    "{{ index .path.segments 0 }}",
    '{{ index .map "a" }}',
    "{{ .missing }}",
    "{{ .cluster.missing }}",
    "{{ .replicas }} {{ .ratio }} {{ .enabled }} {{ .nothing }}",
    "{{ .list }} {{ .map }} {{ .map.nested }}",
    "{{ .name | lower }}",
    "{{ .name | upper | trunc 4 }}",
    '{{ lower .name | replace "-" "_" }}',
    "{{ .name | title }}",
    '{{ title "hello wORLD" }}',
    '{{ trimPrefix "apps/" .path.path }}',
    '{{ trimSuffix "-ui" .path.basename }}',
    '{{ default "fallback" .missing }}',
    '{{ default "fallback" .empty }}',
    '{{ default "fallback" .name }}',
    "{{ empty .empty }} {{ empty .name }}",
    "{{ coalesce .empty .nothing .name }}",
    "{{ quote .name }} {{ squote .env }}",
    '{{ contains "Front" .name }} {{ hasPrefix "Shop" .name }} {{ hasSuffix "x" .name }}',
    '{{ join "," .list }}',
    '{{ splitList "/" .path.path }}',
    "{{ first .list }} {{ last .list }} {{ rest .list }}",
    "{{ len .list }} {{ len .map }} {{ len .name }}",
    "{{ toJson .map }}",
    "{{ toJson .list }}",
    "{{ b64enc .name }}",
    "{{ sha256sum .name }}",
    "{{ add 1 2 3 }} {{ sub 10 4 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }}",
    "{{ max 3 9 2 }} {{ min 3 9 2 }}",
    '{{ ternary "yes" "no" .enabled }}',
    '{{ regexMatch "^Shop" .name }}',
    '{{ regexFind "[A-Z][a-z]+" .name }}',
    '{{ regexReplaceAll "([a-z]+)-([a-z]+)" .path.basename "${2}-${1}" }}',
    '{{ printf "%s-%d" .env 7 }}',
    '{{ printf "%v" .list }}',
    "{{ print .env 1 .enabled }}",
    '{{- if eq .env "prod" }}production{{ else }}other{{ end -}}',
    '{{ if eq .env "dev" }}d{{ else if eq .env "prod" }}p{{ else }}x{{ end }}',
    "{{ if and .enabled .name }}both{{ end }}",
    "{{ if or .empty .nothing }}one{{ else }}none{{ end }}",
    "{{ if not .empty }}not empty{{ end }}",
    "{{ if ne .replicas 1 }}many{{ end }}",
    "{{ if gt .replicas 2 }}big{{ end }}",
    "{{ range .list }}[{{ . }}]{{ end }}",
    "{{ range $i, $v := .list }}{{ $i }}={{ $v }};{{ end }}",
    "{{ range $k, $v := .map }}{{ $k }}{{ end }}",
    "{{ range .missing }}x{{ else }}nothing{{ end }}",
    "{{ with .cluster }}{{ .name }}@{{ .address }}{{ end }}",
    "{{ with .missing }}x{{ else }}none{{ end }}",
    "{{ $n := .name }}{{ $n }}-{{ $.env }}",
    "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
    "{{ (index .list 1) | upper }}",
    '{{ .cluster.name | replace "-" "." }}',
    'a {{- " b " -}} c',
    "{{/* a comment */}}after",
    '{{ dict "a" 1 "b" .env | toJson }}',
    '{{ list 1 "x" | toJson }}',
    '{{ get .map "a" }} {{ hasKey .map "z" }}',
    "{{ keys .cluster | len }}",
    '{{ nospace "a b  c" }}',
    '{{ repeat 3 "ab" }}',
    "{{ substr 1 4 .name }}",
    '{{ atoi "42" }}',
    "{{ uniq (list 1 1 2) | toJson }}",
    '{{ has "b" .list }}',
    "{{ .name | notAFunction }}",
    "{{ if .name }}unclosed",
    "{{ end }}",
    "{{ .list.x }}",
]


@pytest.fixture(scope="module")
def oracle() -> Any:
    binary = str(find_binary("gotemplate-oracle"))

    def ask(cases: list[tuple[str, tuple[str, ...]]]) -> list[dict[str, str]]:
        lines = "".join(json.dumps({"template": t, "data": DATA, "options": list(o)}) + "\n" for t, o in cases)
        done = subprocess.run([binary], input=lines, capture_output=True, text=True, check=True, timeout=60)
        return [json.loads(line) for line in done.stdout.splitlines()]

    return ask


def _ours(template: str, options: tuple[str, ...] = ()) -> dict[str, str]:
    try:
        return {"output": render(template, DATA, options=options)}
    except TemplateError as exc:
        return {"error": str(exc)}


@pytest.mark.integration  # the Go oracle, built by the test-asset setup
def test_every_template_renders_as_go_renders_it(oracle):
    cases = [(t, ()) for t in CORPUS] + [
        ("{{ .missing }}", ("missingkey=error",)),
        ("{{ .missing }}", ("missingkey=zero",)),
        ("{{ .cluster.name }}", ("missingkey=error",)),
    ]
    expected = oracle(cases)
    differences = []
    for (template, options), want in zip(cases, expected, strict=True):
        got = _ours(template, options)
        if ("error" in want) != ("error" in got) or got.get("output") != want.get("output"):
            differences.append((template, options, want, got))
    assert differences == [], "\n".join(f"{t!r} {o}: go {w} / ours {g}" for t, o, w, g in differences)


def test_argo_cds_own_functions():
    assert render('{{ normalize "My_App.v2" }}', {}) == "my-app.v2"
    assert render('{{ slugify "Hello World, Äpp!" }}', {}) == "hello-world-app"
    assert render("{{ .a | toYaml }}", {"a": {"k": [1, 2]}}) == "k:\n- 1\n- 2"
    assert render('{{ (fromJson "{\\"x\\": 1}").x }}', {}) == "1"
