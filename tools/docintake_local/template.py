"""Reads template.yaml — the single source of the bucket, queues, functions and their wiring — and
resolves its intrinsic functions against a local environment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT = "123456789012"
_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


# libyaml's parser (PyYAML's wheels ship it), not the pure-Python one: every local stack reads the template, each
# integration test's too, and the 90 KB template takes 0.45 s in Python, 0.03 s in libyaml (same result).
class _TemplateLoader(yaml.CSafeLoader):
    """CSafeLoader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub, …) into their long forms."""


def _construct_tag(loader: yaml.CSafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_TemplateLoader)  # noqa: S506 - a CSafeLoader subclass
    return dict(loaded)


@dataclass
class Resolver:
    """Resolves Ref, GetAtt, Sub, If and friends. ``refs`` and ``attrs`` hold the local resources."""

    template: dict[str, Any]
    region: str = "us-east-1"
    stack_name: str = "docintake-local"
    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, spec in self.template.get("Parameters", {}).items():
            value = self.parameters.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [v for v in value.split(",") if v]
            self.parameters[name] = value
        self.refs.update(
            {
                "AWS::Region": self.region,
                "AWS::AccountId": LOCAL_ACCOUNT,
                "AWS::StackName": self.stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": None,
            }
        )

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"no local value for Ref {name}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not None}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical, attribute = arg
            return self.attrs[(logical, attribute)]
        if name == "Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB_VAR.sub(lambda m: str(self._sub_value(m.group(1), extra)), text)
        if name == "If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = self.resolve(arg)
            return left == right
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(arg))
        if name == "Or":
            return any(self.resolve(arg))
        if name == "Join":
            separator, items = arg
            return separator.join(str(i) for i in self.resolve(items))
        if name == "Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        raise NotImplementedError(f"Fn::{name} is not supported by the local stack")

    def _sub_value(self, name: str, extra: dict[str, Any]) -> Any:
        if name in extra:
            return extra[name]
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.attrs[(logical, attribute)]
        value = self.ref(name)
        return ",".join(value) if isinstance(value, list) else value


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in template["Resources"].items() if spec.get("Type") == kind}


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's Globals.Function merged underneath."""
    merged = dict(template.get("Globals", {}).get("Function", {}))
    own = template["Resources"][logical_id]["Properties"]
    for key, value in own.items():
        if key == "Environment":
            variables = dict(merged.get("Environment", {}).get("Variables", {}))
            variables.update(value.get("Variables", {}))
            merged["Environment"] = {"Variables": variables}
        else:
            merged[key] = value
    return merged
