"""The scenario library (seeds 002/004): parameterised campaign templates in events/templates/.

A template is YAML: `template.parameters` (each with a default and a description) and `campaign`, the
definition as Jinja2 text. `render(name, {"price": 25})` fills it in (a parameter the template does not
declare is an error; StrictUndefined refuses a placeholder nobody set) and returns the definition."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from marketing_tools.project import ProjectNotFound, project_path


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    parameters: dict[str, dict[str, Any]]
    body: str

    def render(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise TemplateError(f"template {self.name}: no parameter {', '.join(unknown)} "
                                f"(it takes {', '.join(sorted(self.parameters))})")
        filled = {k: p.get("default") for k, p in self.parameters.items()} | values
        environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        environment.policies["json.dumps_kwargs"] = {"ensure_ascii": False}
        try:
            text = environment.from_string(self.body).render(**filled)
            return yaml.safe_load(text)
        except (jinja2.TemplateError, yaml.YAMLError) as error:
            raise TemplateError(f"template {self.name}: {error}") from None


def templates_dir() -> Path:
    try:
        return project_path("events", "templates")
    except ProjectNotFound as error:
        raise TemplateError(str(error)) from None


def load_template(name: str) -> Template:
    path = templates_dir() / f"{name}.yaml"
    if not path.is_file():
        raise TemplateError(f"no template {name!r}; there are {', '.join(available())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    head = raw.get("template") or {}
    return Template(name, head.get("description", ""), head.get("parameters") or {}, raw.get("campaign") or "")


def available() -> list[str]:
    return sorted(p.stem for p in templates_dir().glob("*.yaml"))


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`--set price=25 --set areas=[PEK_T3, PVG_T2]`: each value read as YAML (numbers, lists, text)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"--set {pair!r}: expected key=value")
        values[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return values
