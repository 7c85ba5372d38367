#!/usr/bin/env python3
"""Checks Arca's REST API against Sonatype Nexus 3's OpenAPI description.

Usage:
  api-conformance.py --base URL --user admin --password PW --nexus tests/reference/nexus-openapi-3.94.yaml
                     [--extensions '/v1/foo*,/v1/bar'] [--sample [PATH-PATTERN:]NAME=VALUE ...]
                     [--get /v1/path?q=1 ...] [--arca-doc FILE] [--no-live]

1. Reads Arca's own OpenAPI document ($BASE/service/rest/swagger.json, or --arca-doc FILE, JSON or YAML) and
   Nexus's. Paths are normalised to "/v1/..." (Nexus writes "/v1/..." under servers "/service/rest", Arca
   writes "/service/rest/v1/..." in full); templates match whatever their parameters are called.
2. Every (path, method) Arca documents under /v1 must be documented by Nexus, unless the path is in
   ARCA_EXTENSIONS (or --extensions); those print as "extension".
3. For each shared operation: every field Nexus requires in the request body must be in Arca's request schema;
   every property of Arca's 200/201 response schema must exist in Nexus's with a compatible type (enums a
   subset), and every field Nexus's response requires must be declared by Arca and not nullable (declared
   but optional is printed as a "note", not failed: the live check sees whether it is really sent); the
   2xx status codes Arca declares must be among Nexus's when Nexus lists explicit ones. Where Arca documents
   one templated path for many of Nexus's (/v1/repositories/{format}/{kind} for .../maven/hosted etc.), each
   covered Nexus path is compared, with Arca's oneOf branch for that format and type picked by schema name.
4. Live: each GET Arca documents (path and required query parameters from --sample, every combination;
   without a sample the GET is skipped) and each --get path is called with the given credentials; the body
   is validated against Nexus's response schema for the returned status. A non-2xx/3xx answer fails;
   redirects are not followed (a 3xx passes unless Nexus lists other success codes).

Validation rules (both for live bodies and for schema-vs-schema comparison):
  * $ref, allOf (merged), oneOf/anyOf (a value must match at least one branch), enum, items,
    additionalProperties, nullable (3.0) and type lists / "null" branches (3.1) are understood.
  * Objects whose schema lists properties are closed: a field the schema doesn't list fails, unless the
    schema has additionalProperties (then the field is checked against it). A schema with neither
    properties nor additionalProperties is a free-form object.
  * null: accepted where the schema is nullable, or for a property the parent schema does not require
    (Nexus's Jackson output sends unset optional fields as null, e.g. "lastDownloaded": null, so clients
    already cope). null for a required property, an array item or a whole body fails unless nullable.
  * integer is accepted where Nexus says number, never the reverse; string formats are not checked.
  * AbstractApiRepository (the abstract base Nexus's yaml gives for GET /v1/repositories/{format}/{type}/{name}
    and /v1/repositorySettings) is resolved to the concrete shape for the body's format/type: that path's
    own GET schema if it names a concrete one, else AbstractApiRepository + the path's PUT body schema.
  * Where the 3.94 yaml declares no success body at all but Nexus's resources do return one, the schema
    comes from NEXUS_UNDECLARED_RESPONSES (named in the output as "(fallback)").

Prints one line per check, "ok   ...", "FAIL ...", "extension ..." or "skip ...", then "N passed, N failed";
exits 1 on any failure. Needs Python 3 and PyYAML.
"""

import argparse
import base64
import fnmatch
import itertools
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

# Arca-only paths (fnmatch patterns on the normalised "/v1/..." path; "*" also matches "/").
# Fields Arca adds to a Nexus schema (Nexus clients ignore unknown fields): (Nexus schema, field).
ARCA_EXTENSION_FIELDS = {
    # The blob store list: bytes the garbage collectors will free, and the last collection's result.
    ("GenericBlobStoreApiResponse", "reclaimableSizeInBytes"),
    ("GenericBlobStoreApiResponse", "lastCollection"),
    # Task templates: the properties each type takes (Nexus's UI reads them from its own endpoint).
    ("TaskTemplateXO", "fields"),
}

ARCA_EXTENSIONS = [
    # Arca's audit log, paged like /v1/components. Nexus writes audit events to nexus-audit.log and
    # has no REST endpoint for reading them.
    "/v1/audit",
    # Arca's API tokens (create/list/revoke; sent as Bearer or as the Basic password). Nexus's closest thing,
    # user tokens, is a Pro feature with a different model (/v1/security/user-tokens, one pair per user).
    "/v1/security/tokens*",
    # Read-only mode (GET /v1/read-only, POST freeze/release/force-release) is real Nexus API, but the
    # 3.94 description omits it, so there is no Nexus schema to compare with.
    "/v1/read-only*",
    # Cleanup policies at their public path: Nexus 3.96 moved them here from /internal/cleanup-policies (still
    # served, and compared above), so the 3.94 description does not have it.
    "/v1/cleanup-policies*",
    # PEP 592 yanking of a PyPI release (POST/DELETE /v1/pypi/{repository}/{project}/{version}/yank):
    # Nexus has no yank API.
    "/v1/pypi/*/yank",
]

_S = "#/components/schemas/"


def _ref(name):
    return {"$ref": _S + name}


def _arr(name):
    return {"type": "array", "items": _ref(name)}


# Success bodies Nexus returns but the 3.94 yaml does not declare (the operation lists only error codes,
# or a success code without content). Keyed by (method, "/v1/..." with parameters written "{}"); the
# schemas are the return types of Nexus's REST resources, all of which are in the yaml's components.
NEXUS_UNDECLARED_RESPONSES = {
    ("get", "/v1/security/users"): {"200": _arr("ApiUser")},
    ("post", "/v1/security/users"): {"200": _ref("ApiUser")},
    ("get", "/v1/security/roles"): {"200": _arr("RoleXOResponse")},
    ("post", "/v1/security/roles"): {"200": _ref("RoleXOResponse")},
    ("get", "/v1/security/roles/{}"): {"200": _ref("RoleXOResponse")},
    ("get", "/v1/security/anonymous"): {"200": _ref("AnonymousAccessSettingsXO")},
    ("put", "/v1/security/anonymous"): {"200": _ref("AnonymousAccessSettingsXO")},
    ("get", "/v1/security/user-sources"): {"200": _arr("ApiUserSource")},
    ("get", "/v1/components"): {"200": _ref("PageComponentXO")},
    ("get", "/v1/components/{}"): {"200": _ref("ComponentXO")},
    ("get", "/v1/assets"): {"200": _ref("PageAssetXO")},
    ("get", "/v1/assets/{}"): {"200": _ref("AssetXO")},
    ("get", "/v1/repositories/{}"): {"200": _ref("RepositoryXO")},
    ("get", "/v1/tasks/{}"): {"200": _ref("TaskXO")},
}

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
MAX_REASONS = 12


# ---------------------------------------------------------------- documents and paths


def norm_path(doc, path):
    """'/service/rest/v1/x/' or '/v1/x' (under servers/basePath '/service/rest') -> '/v1/x'."""
    prefix = ""
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], dict):
        prefix = urllib.parse.urlparse(servers[0].get("url", "")).path
    elif doc.get("basePath"):
        prefix = doc["basePath"]
    full = "/" + "/".join(x for x in (prefix.strip("/"), path.strip("/")) if x)
    i = full.find("/service/rest/")
    if i >= 0:
        full = full[i + len("/service/rest"):]
    return full.rstrip("/") or "/"


def key(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def segs(path):
    return [s for s in path.split("/") if s]


def is_param(seg):
    return seg.startswith("{") and seg.endswith("}")


class Doc:
    def __init__(self, raw, label):
        self.raw = raw
        self.label = label
        self.ops = {}  # (method, path) -> (operation, path-level parameters, original path)
        for p, item in (raw.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            n = norm_path(raw, p)
            for m in METHODS:
                if m in item:
                    self.ops[(m, n)] = (item[m], item.get("parameters") or [], p)
        self.by_key = {}
        for (m, p) in self.ops:
            self.by_key.setdefault(key(p), set()).add(p)

    def deref(self, obj):
        """Follows $ref (any JSON pointer into this document); returns (object, last schema name)."""
        name = None
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj and seen < 50:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"{self.label}: external $ref {ref} not supported")
            target = self.raw
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target[part]
            name = ref.rsplit("/", 1)[-1]
            obj = target
            seen += 1
        return obj, name

    def params(self, method, path):
        op, common, _ = self.ops[(method, path)]
        out = {}
        for p in list(common) + list(op.get("parameters") or []):
            p, _ = self.deref(p)
            out[(p.get("in"), p.get("name"))] = p
        return list(out.values())

    def request(self, method, path):
        """-> ({media type: schema or None}, required flag) or (None, False) when there is no body."""
        op = self.ops[(method, path)][0]
        if "requestBody" in op:
            rb, _ = self.deref(op["requestBody"])
            content = rb.get("content") or {}
            return {mt: (c or {}).get("schema") for mt, c in content.items()}, bool(rb.get("required"))
        body = [p for p in self.params(method, path) if p.get("in") == "body"]
        if body:  # Swagger 2.0
            return {"application/json": body[0].get("schema")}, bool(body[0].get("required"))
        form = [p for p in self.params(method, path) if p.get("in") == "formData"]
        if form:
            props = {p["name"]: {k: v for k, v in p.items() if k in ("type", "items", "enum", "format")} for p in form}
            req = [p["name"] for p in form if p.get("required")]
            return {"multipart/form-data": {"type": "object", "properties": props, "required": req}}, True
        return None, False

    def responses(self, method, path):
        """-> {status string: {media type: schema or None}} ({} when a response has no content)."""
        op = self.ops[(method, path)][0]
        out = {}
        for code, r in (op.get("responses") or {}).items():
            r, _ = self.deref(r)
            r = r or {}
            if "content" in r:
                out[str(code)] = {mt: (c or {}).get("schema") for mt, c in (r["content"] or {}).items()}
            elif "schema" in r:  # Swagger 2.0
                out[str(code)] = {"application/json": r["schema"]}
            else:
                out[str(code)] = {}
        return out


def pick_media(content):
    """The JSON-ish entry of a content map: (media type, schema) or (None, None)."""
    if not content:
        return None, None
    for pref in ("application/json",):
        if pref in content:
            return pref, content[pref]
    for mt, s in content.items():
        if "json" in mt:
            return mt, s
    if "*/*" in content:
        return "*/*", content["*/*"]
    mt = next(iter(content))
    return mt, content[mt]


def match_template(concrete, template, literal_vs_param):
    """Segment match. literal_vs_param: a literal in `concrete` may match a parameter in `template`."""
    a, b = segs(concrete), segs(template)
    if len(a) != len(b):
        return None
    score = 0
    for x, y in zip(a, b):
        if is_param(x) and is_param(y):
            score += 2
        elif is_param(x) or is_param(y):
            if is_param(y) and literal_vs_param:
                score += 1
            elif is_param(x) and not literal_vs_param:
                score += 1  # Arca's parameter covers Nexus's literal (e.g. /repositories/{format}/{kind})
            else:
                return None
        elif x == y:
            score += 3
        else:
            return None
    return score


# ---------------------------------------------------------------- schema views


class View:
    """A schema with $ref and allOf resolved: the parts the checks look at."""

    __slots__ = ("name", "hint", "types", "nullable", "props", "required", "addl", "items", "enum", "variants",
                 "any")

    def __init__(self):
        self.name = None
        self.hint = None  # e.g. "GenericBlobStoreApiResponse[]" for an unnamed array
        self.types = None  # set of JSON type names, or None for "any"
        self.nullable = False
        self.props = {}
        self.required = set()
        self.addl = None  # None (unspecified), True/False, or a schema
        self.items = None
        self.enum = None
        self.variants = None  # oneOf/anyOf branches
        self.any = True

    def label(self):
        return self.name or self.hint or "inline schema"


def view(doc, schema, depth=0):
    v = View()
    if schema is None or depth > 40:
        return v
    schema, name = doc.deref(schema)
    if not isinstance(schema, dict):
        return v
    v.name = name
    if schema.get("allOf"):
        parts = [view(doc, s, depth + 1) for s in schema["allOf"]]
        named = [p.name for p in parts if p.name]
        if not v.name and named:
            v.name = "+".join(named)
        for p in parts:
            if p.types is not None:
                v.types = p.types if v.types is None else (v.types & p.types) or p.types
            v.props.update(p.props)
            v.required |= p.required
            if p.addl is not None and v.addl is None:
                v.addl = p.addl
            v.items = v.items or p.items
            if p.enum is not None and v.enum is None:
                v.enum = p.enum
            if p.variants and not v.variants:
                v.variants = p.variants
            v.any = v.any and p.any
        v.nullable = all(p.nullable for p in parts)
    t = schema.get("type")
    if isinstance(t, list):
        ts = set(t)
        if "null" in ts:
            v.nullable = True
            ts.discard("null")
        v.types = ts or v.types
    elif isinstance(t, str):
        if t == "null":
            v.nullable = True
            v.types = set()
        else:
            v.types = {t}
    if schema.get("nullable"):
        v.nullable = True
    if "properties" in schema:
        v.props.update(schema.get("properties") or {})
        if v.types is None:
            v.types = {"object"}
    if "required" in schema:
        v.required |= set(schema.get("required") or [])
    if "additionalProperties" in schema:
        v.addl = schema["additionalProperties"]
        if v.types is None:
            v.types = {"object"}
    if "items" in schema:
        v.items = schema["items"]
        if v.types is None:
            v.types = {"array"}
        _, item_name = doc.deref(v.items)
        v.hint = f"{item_name}[]" if item_name else None
    if "enum" in schema:
        v.enum = [e for e in schema["enum"] if e is not None]
        if None in schema["enum"]:
            v.nullable = True
    for k in ("oneOf", "anyOf"):
        if schema.get(k):
            branches = []
            for b in schema[k]:
                bv, _ = doc.deref(b)
                if isinstance(bv, dict) and bv.get("type") == "null":
                    v.nullable = True
                else:
                    branches.append(b)
            if len(branches) == 1 and not v.props and v.types is None:
                inner = view(doc, branches[0], depth + 1)
                inner.nullable = inner.nullable or v.nullable
                return inner
            v.variants = branches
    v.any = (v.types is None and not v.props and v.addl is None and v.items is None
             and v.enum is None and not v.variants)
    return v


def props_union(doc, schema, depth=0, pick=None):
    """All property names a schema (or any of its oneOf/anyOf branches, as chosen by pick) accepts."""
    v = view(doc, schema)
    names = set(v.props)
    if v.variants and depth < 10:
        for b in (pick(v.variants) if pick else v.variants):
            names |= props_union(doc, b, depth + 1, pick)
    return names


def repo_of(nexus_path):
    """("maven", "hosted") for /v1/repositories/maven/hosted[/{repositoryName}], else None."""
    parts = segs(nexus_path)
    if len(parts) in (4, 5) and parts[1] == "repositories" and not any(map(is_param, parts[2:4])):
        return parts[2], parts[3]
    return None


def json_type(x):
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "array"
    return "object"


def type_ok(actual, allowed):
    return actual in allowed or (actual == "integer" and "number" in allowed)


# ---------------------------------------------------------------- live validation against Nexus


class Nexus(Doc):
    def concrete_repository(self, fmt, kind):
        """Concrete schema for an AbstractApiRepository body of this format/type, or None."""
        if not isinstance(fmt, str) or not isinstance(kind, str):
            return None
        for f in dict.fromkeys([fmt, re.sub(r"\d+$", "", fmt)]):
            path = f"/v1/repositories/{f}/{kind}/{{}}"
            paths = self.by_key.get(path) or set()
            for p in paths:
                if ("get", p) in self.ops:
                    for code in ("200", "default"):
                        _, s = pick_media(self.responses("get", p).get(code))
                        if s is not None and view(self, s).name not in (None, "AbstractApiRepository"):
                            return s
                if ("put", p) in self.ops:
                    content, _ = self.request("put", p)
                    _, s = pick_media(content)
                    if s is not None:
                        return {"allOf": [_ref("AbstractApiRepository"), s]}
        return None

    def repository_union(self):
        """Any concrete repository: every field some format/type's schema has, AbstractApiRepository's
        required fields. Stands in for AbstractApiRepository when comparing documents (the format isn't
        known there, e.g. for /v1/repositorySettings)."""
        if getattr(self, "_union", None) is None:
            props = {}
            for k in sorted(self.by_key):
                parts = segs(k)
                if len(parts) == 5 and parts[:2] == ["v1", "repositories"] and "{}" not in parts[2:4]:
                    s = self.concrete_repository(parts[2], parts[3])
                    if s is not None:
                        for name, sub in view(self, s).props.items():
                            alts = props.setdefault(name, [])
                            if sub not in alts:
                                alts.append(sub)
            base = view(self, _ref("AbstractApiRepository"))
            self._union = {"type": "object", "required": sorted(base.required),
                           "properties": {k: v[0] if len(v) == 1 else {"anyOf": v} for k, v in props.items()}}
        return self._union


def validate(nx, schema, value, where, errs, depth=0, notes=None, ctx=None):
    """Checks a live value against a Nexus schema. ctx names an unnamed schema by where it sits in a named
    one (e.g. "TaskXO.lastRun")."""
    v = view(nx, schema)
    if not v.name and not v.hint and ctx:
        v.hint = ctx
    if depth > 60:
        return
    if value is None:
        if not (v.nullable or v.any):
            errs.append(f"{where}: null, but {v.label()} is not nullable")
        return
    if v.any:
        return
    if v.name == "AbstractApiRepository" and isinstance(value, dict):
        concrete = nx.concrete_repository(value.get("format"), value.get("type"))
        if concrete is not None:
            cv = view(nx, concrete)
            cv.name = (cv.label() if cv.label().startswith("AbstractApiRepository")
                       else f"AbstractApiRepository as {cv.label()}")
            v = cv
            if notes is not None:
                notes.add(cv.name)
    if v.variants:
        tried = []
        for b in v.variants:
            sub = []
            validate(nx, b, value, where, sub, depth + 1, notes, f"{v.label()}|oneOf")
            if not sub:
                break
            tried.append((view(nx, b).label(), sub))
        else:
            errs.append(f"{where}: matches none of {v.label()}'s oneOf/anyOf branches: "
                        + "; ".join(f"{n}: {s[0]}" for n, s in tried[:4]))
        if not v.props:
            return
    jt = json_type(value)
    if v.types is not None and v.types and not type_ok(jt, v.types):
        errs.append(f"{where}: {jt} {short(value)}, but {v.label()} says {'/'.join(sorted(v.types))}")
        return
    if v.enum is not None and value not in v.enum:
        errs.append(f"{where}: {short(value)} is not one of {v.label()}'s enum {v.enum}")
    if isinstance(value, dict):
        for r in sorted(v.required):
            if r not in value:
                errs.append(f"{where}: missing field '{r}' required by {v.label()}")
        for k, x in value.items():
            if k in v.props:
                if x is None and k not in v.required:
                    continue
                validate(nx, v.props[k], x, f"{where}.{k}", errs, depth + 1, notes, f"{v.label()}.{k}")
            elif isinstance(v.addl, dict):
                validate(nx, v.addl, x, f"{where}.{k}", errs, depth + 1, notes, f"{v.label()}.*")
            elif v.addl is True or (not v.props and v.addl is None):
                continue
            elif (v.label(), k) in ARCA_EXTENSION_FIELDS:
                continue
            else:
                errs.append(f"{where}.{k}: field unknown to {v.label()}")
    elif isinstance(value, list) and v.items is not None:
        for i, x in enumerate(value):
            validate(nx, v.items, x, f"{where}[{i}]", errs, depth + 1, notes, f"{v.label()}[]")


def short(x):
    s = json.dumps(x)
    return s if len(s) <= 60 else s[:57] + "..."


# ---------------------------------------------------------------- schema vs schema


def repository_variants(arca, variants, nx, repo):
    """Of Arca's oneOf/anyOf branches, those that stand for repositories of this (format, type): by schema
    name, e.g. MavenHostedApiRepository for ("maven", "hosted"); failing that, branches whose name starts
    with no format but has the type (e.g. SimpleApiGroupRepository); failing that, all of them."""
    if not repo or not variants:
        return variants
    fmt, kind = re.sub(r"\d+$", "", repo[0]).lower(), repo[1].lower()
    formats = {segs(k)[2].lower() for k in nx.by_key if len(segs(k)) == 5 and segs(k)[1] == "repositories"}
    named = [(b, (view(arca, b).name or "").lower()) for b in variants]
    specific = [b for b, n in named if n.startswith(fmt) and kind in n]
    generic = [b for b, n in named if kind in n and not any(n.startswith(f) for f in formats)]
    return specific or generic or variants


def compare(arca, a_schema, nx, n_schema, where, errs, seen, depth=0, repo=None, ctx=None, notes=None):
    """Arca's (response) schema must fit Nexus's; reasons go to errs. repo: (format, type) when the Nexus
    path names them, to resolve AbstractApiRepository (else it stands for any concrete repository)."""
    a, n = view(arca, a_schema), view(nx, n_schema)
    if not n.name and not n.hint and ctx:
        n.hint = ctx
    if n.name == "AbstractApiRepository":
        concrete = nx.concrete_repository(*repo) if repo else None
        n_schema = concrete if concrete is not None else nx.repository_union()
        n = view(nx, n_schema)
        n.name = f"AbstractApiRepository as {n.label() if concrete is not None else 'any concrete repository'}"
    pair = (id(a_schema), id(n_schema))
    if pair in seen or depth > 40:
        return
    seen = seen | {pair}
    if a.any or n.any:
        return
    if a.variants:
        for b in repository_variants(arca, a.variants, nx, repo):
            compare(arca, b, nx, n_schema, where, errs, seen, depth + 1, repo, ctx, notes)
        if not a.props:
            return
    if n.variants:
        for b in n.variants:
            sub = []
            compare(arca, a_schema, nx, b, where, sub, seen, depth + 1, repo, f"{n.label()}|oneOf", notes)
            if not sub:
                return
        errs.append(f"{where}: Arca's {a.label()} fits none of Nexus's {n.label()} branches")
        return
    if a.types and n.types:
        bad = [t for t in a.types if not type_ok(t, n.types)]
        if bad:
            errs.append(f"{where}: Arca type {'/'.join(sorted(a.types))}, Nexus {n.label()} type "
                        f"{'/'.join(sorted(n.types))}")
            return
    if a.enum is not None and n.enum is not None:
        extra = [e for e in a.enum if e not in n.enum]
        if extra:
            errs.append(f"{where}: Arca enum values {extra} not in Nexus {n.label()} enum {n.enum}")
    n_is_object = n.types is not None and "object" in n.types
    if n_is_object and (a.props or a.addl is not None or (a.types and "object" in a.types)):
        for k, sub in a.props.items():
            if k in n.props:
                compare(arca, sub, nx, n.props[k], f"{where}.{k}", errs, seen, depth + 1, repo, f"{n.label()}.{k}",
                        notes)
            elif isinstance(n.addl, dict):
                compare(arca, sub, nx, n.addl, f"{where}.{k}", errs, seen, depth + 1, repo, f"{n.label()}.*", notes)
            elif n.addl is True or (not n.props and n.addl is None):
                continue
            elif (n.label(), k) in ARCA_EXTENSION_FIELDS:
                if notes is not None:
                    notes.append(f"{where}.{k}: an Arca field beside Nexus {n.label()}'s")
            else:
                errs.append(f"{where}.{k}: Arca declares a field unknown to Nexus {n.label()}")
        if isinstance(a.addl, dict) and isinstance(n.addl, dict):
            compare(arca, a.addl, nx, n.addl, f"{where}.*", errs, seen, depth + 1, repo, f"{n.label()}.*", notes)
        a_free = not a.props and a.addl in (None, True)
        for r in sorted(n.required):
            if r not in a.props:
                if a_free:
                    errs.append(f"{where}: Arca declares a free-form object where Nexus {n.label()} "
                                f"requires '{r}'")
                    break
                errs.append(f"{where}: Nexus {n.label()} requires '{r}'; Arca's {a.label()} lacks it")
            elif view(arca, a.props[r]).nullable:
                errs.append(f"{where}.{r}: required by Nexus {n.label()}, but Arca's {a.label()} lets it be null")
            elif r not in a.required and notes is not None:
                notes.append(f"{where}.{r}: required by Nexus {n.label()}, optional in Arca's {a.label()}")
    if a.items is not None and n.items is not None:
        compare(arca, a.items, nx, n.items, f"{where}[]", errs, seen, depth + 1, repo, f"{n.label()}[]", notes)


# ---------------------------------------------------------------- the run


class Report:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, what, note=""):
        self.passed += 1
        print(f"ok   {what}" + (f" ({note})" if note else ""))

    def fail(self, what, reasons):
        self.failed += 1
        if isinstance(reasons, str):
            reasons = [reasons]
        reasons = list(dict.fromkeys(reasons))
        if len(reasons) == 1 and len(reasons[0]) < 110:
            print(f"FAIL {what}: {reasons[0]}")
            return
        print(f"FAIL {what}: {len(reasons)} problem{'s' if len(reasons) > 1 else ''}")
        for r in reasons[:MAX_REASONS]:
            print(f"       - {r}")
        if len(reasons) > MAX_REASONS:
            print(f"       - ... {len(reasons) - MAX_REASONS} more")

    def note(self, lines):
        """Detail that is not a failure (e.g. a field Nexus requires that Arca's doc marks optional)."""
        for line in lines[:MAX_REASONS]:
            print(f"       note: {line}")
        if len(lines) > MAX_REASONS:
            print(f"       note: ... {len(lines) - MAX_REASONS} more")

    def extension(self, what):
        print(f"extension {what}")

    def skip(self, what, why):
        self.skipped += 1
        print(f"skip {what} ({why})")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is the answer being checked, not something to follow


_opener = urllib.request.build_opener(_NoRedirect)


def http_get(url, user, password, accept="application/json"):
    req = urllib.request.Request(url, headers={"Accept": accept})
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with _opener.open(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def is_extension(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def nexus_matches(arca, nx, arca_path, method):
    """Nexus paths documenting (method, arca_path) -> (paths, exact template exists, its methods).

    The exact template (parameter names aside) if Nexus has it with this method. Otherwise the Nexus paths
    whose literals Arca's parameters cover, e.g. Arca's /v1/repositories/{format}/{kind} covers Nexus's
    /v1/repositories/maven/hosted: a literal must be in the Arca parameter's enum when it has one, and of
    the covered paths only the largest group with the same literal/parameter layout counts (so that
    /v1/repositories/{repositoryName}/health-check doesn't pass for a {format}/{kind} path)."""
    exact = nx.by_key.get(key(arca_path), set())
    hits = [p for p in exact if (method, p) in nx.ops]
    if hits:
        return hits, True, set()
    methods = {m for (m, p) in nx.ops if p in exact}
    enums = {}
    for prm in arca.params(method, arca_path):
        if prm.get("in") == "path":
            pv = view(arca, prm.get("schema"))
            if pv.enum is not None:
                enums[prm.get("name")] = {str(e) for e in pv.enum}
    groups = {}
    for (m, p) in nx.ops:
        if m != method or match_template(arca_path, p, False) is None:
            continue
        layout, fits = [], True
        for x, y in zip(segs(arca_path), segs(p)):
            layout.append(is_param(y))
            if is_param(x) and not is_param(y) and x[1:-1] in enums and y not in enums[x[1:-1]]:
                fits = False
        if fits:
            groups.setdefault(tuple(layout), []).append(p)
    cover = max(groups.values(), key=len) if groups else []
    return sorted(cover), bool(exact), methods


def nexus_response_schema(nx, method, path, status=None):
    """(status used, schema or None, note) for a Nexus operation's success (or given) status."""
    resp = nx.responses(method, path)
    fb = NEXUS_UNDECLARED_RESPONSES.get((method, key(path)), {})
    codes = [status] if status else ["200", "201"]
    for code in codes + ["default"]:
        if code == "default" and status and not status.startswith("2"):
            break
        if code in resp:
            _, s = pick_media(resp[code])
            if s is not None:
                return code, s, ""
            if code in fb:
                return code, fb[code], "fallback"
            if code != "default":
                return code, None, ""
        elif code in fb and code != "default":
            return code, fb[code], "fallback"
    return None, None, ""


def check_operation(arca, nx, method, path, nexus_paths, rep):
    what = f"{method.upper()} {path}"
    # request body
    a_content, _ = arca.request(method, path)
    req_errs, compared = [], False
    for np in nexus_paths:
        n_content, n_required = nx.request(method, np)
        tag = f"[{np}] " if len(nexus_paths) > 1 else ""
        if not a_content and not n_content:
            continue
        compared = True
        if n_content and not a_content:
            if n_required or any(s is not None for s in n_content.values()):
                req_errs.append(f"{tag}Nexus takes a {'/'.join(n_content)} body "
                                f"({view(nx, pick_media(n_content)[1]).label()}); Arca documents none")
            continue
        if a_content and not n_content:
            req_errs.append(f"{tag}Arca documents a {'/'.join(a_content)} body; Nexus takes none")
            continue
        n_types = set(n_content)
        if not (n_types & set(a_content)) and "*/*" not in n_types and "*/*" not in a_content:
            req_errs.append(f"{tag}media types differ: Nexus {sorted(n_types)}, Arca {sorted(a_content)}")
            continue
        mt = next((m for m in a_content if m in n_content), None)
        n_schema = n_content.get(mt) if mt else pick_media(n_content)[1]
        a_schema = a_content.get(mt) if mt else pick_media(a_content)[1]
        nv = view(nx, n_schema)
        if nv.types and "object" not in nv.types:
            av = view(arca, a_schema)
            if av.types and not (av.types & nv.types):
                req_errs.append(f"{tag}body type: Nexus {'/'.join(sorted(nv.types))}, Arca "
                                f"{'/'.join(sorted(av.types))}")
            continue
        repo = repo_of(np)
        accepted = props_union(arca, a_schema, pick=lambda vs: repository_variants(arca, vs, nx, repo))
        av = view(arca, a_schema)
        if not accepted and (av.any or av.addl not in (None, False)):
            continue  # free-form object: accepts anything
        missing = sorted(r for r in nv.required if r not in accepted)
        if missing:
            req_errs.append(f"{tag}Arca's {av.label()} lacks fields Nexus {nv.label()} requires: "
                            f"{', '.join(missing)}")
    if req_errs:
        rep.fail(f"{what} request", req_errs)
    elif compared:
        rep.ok(f"{what} request")

    # response status codes and body
    a_resp = arca.responses(method, path)
    a_codes = {c for c in a_resp if c.startswith("2")}
    res_errs, notes, doc_notes = [], [], []
    for np in nexus_paths:
        tag = f"[{np}] " if len(nexus_paths) > 1 else ""
        n_resp = nx.responses(method, np)
        n_codes = {c for c in n_resp if c.startswith("2")}
        if n_codes and a_codes - n_codes:
            res_errs.append(f"{tag}Arca answers {'/'.join(sorted(a_codes - n_codes))}, Nexus "
                            f"{'/'.join(sorted(n_codes))}")
        code, n_schema, note = nexus_response_schema(nx, method, np)
        a_schema = None
        for c in ("200", "201"):
            if c in a_resp:
                a_schema = pick_media(a_resp[c])[1]
                if a_schema is not None:
                    break
        if n_schema is None:
            notes.append("Nexus declares no success body")
            continue
        name = view(nx, n_schema).label() + (" (fallback)" if note else "")
        if a_schema is None:
            if a_codes and not (a_codes & {"200", "201"}):
                res_errs.append(f"{tag}Nexus returns a {name} body with {code}; Arca answers "
                                f"{'/'.join(sorted(a_codes))} without one")
            else:
                res_errs.append(f"{tag}Nexus returns {name}; Arca's doc declares no 200/201 body")
            continue
        sub, sub_notes = [], []
        compare(arca, a_schema, nx, n_schema, tag + "$", sub, frozenset(), repo=repo_of(np), notes=sub_notes)
        res_errs += sub
        doc_notes += sub_notes
        notes.append(f"vs {name}")
    if res_errs:
        rep.fail(f"{what} response", res_errs)
    else:
        rep.ok(f"{what} response", "; ".join(dict.fromkeys(notes)))
    rep.note(list(dict.fromkeys(doc_notes)))


def live_targets(arca, nx, path, samples, rep):
    """Concrete '/v1/...?...' URLs for a GET Arca documents, or None (reported as skip)."""
    params = arca.params("get", path)
    nexus_names = {}
    exact = sorted(nx.by_key.get(key(path), set()))
    if exact:
        for x, y in zip(segs(path), segs(exact[0])):
            if is_param(x) and is_param(y):
                nexus_names[x[1:-1]] = y[1:-1]
    names = [s[1:-1] for s in segs(path) if is_param(s)]
    query = [p["name"] for p in params if p.get("in") == "query" and p.get("required")]
    choices = []
    scoped = {}
    for pattern, name, val in samples:
        if pattern and fnmatch.fnmatchcase(path, pattern):
            scoped.setdefault(name, []).append(val)
    plain = {}
    for pattern, name, val in samples:
        if not pattern:
            plain.setdefault(name, []).append(val)
    for n in names + query:
        nn = nexus_names.get(n, n)
        vals = scoped.get(n) or scoped.get(nn) or plain.get(nn) or plain.get(n)
        if not vals:
            rep.skip(f"GET {path} live", f"no --sample for {n}")
            return None
        choices.append(vals)
    out = []
    for combo in itertools.islice(itertools.product(*choices), 50):
        p = path
        for n, val in zip(names, combo):
            p = p.replace("{" + n + "}", urllib.parse.quote(val, safe=""))
        q = list(zip(query, combo[len(names):]))
        out.append(p + ("?" + urllib.parse.urlencode(q) if q else ""))
    return out


def live_check(nx, args, url_path, rep):
    what = f"GET {url_path} live"
    bare = url_path.split("?", 1)[0].rstrip("/")
    best = None
    for (m, p) in nx.ops:
        if m != "get":
            continue
        s = match_template(bare, p, True)
        if s is not None and (best is None or s > best[0]):
            best = (s, p)
    if best is None:
        rep.fail(what, "no Nexus GET matches this path")
        return
    npath = best[1]
    try:
        status, ctype, body = http_get(args.base.rstrip("/") + "/service/rest" + url_path, args.user, args.password)
    except (urllib.error.URLError, OSError) as e:
        rep.fail(what, f"request failed: {e}")
        return
    n_resp = nx.responses("get", npath)
    if 300 <= status < 400:
        declared = {c for c in n_resp if c[0] in "23"}
        if declared and str(status) not in declared:
            rep.fail(what, f"HTTP {status}, Nexus {npath} answers {'/'.join(sorted(declared))}")
        else:
            rep.ok(what, f"HTTP {status}" + ("" if declared else "; Nexus declares no success status"))
        return
    if not 200 <= status < 300:
        rep.fail(what, f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
        return
    n_codes = {c for c in n_resp if c.startswith("2")}
    code, schema, note = nexus_response_schema(nx, "get", npath, str(status))
    errs = []
    if n_codes and str(status) not in n_codes:
        errs.append(f"HTTP {status}, Nexus {npath} answers {'/'.join(sorted(n_codes))}")
    if schema is None:
        if errs:
            rep.fail(what, errs)
        else:
            rep.ok(what, f"Nexus declares no body for {status}; {len(body)} bytes not validated"
                   if body.strip() else "")
        return
    label = view(nx, schema).label() + (" (fallback)" if note else "")
    sv = view(nx, schema)
    notes = set()
    if not body.strip():
        errs.append(f"empty body, Nexus {npath} returns {label}")
    elif "json" in ctype or (sv.types and not sv.types <= {"string"}):
        try:
            value = json.loads(body)
        except ValueError as e:
            rep.fail(what, f"body is not JSON ({ctype}): {e}")
            return
        validate(nx, schema, value, "$", errs, notes=notes)
    else:
        validate(nx, schema, body.decode("utf-8", "replace"), "$", errs, notes=notes)
    if notes:
        label += ", resolved to " + ", ".join(sorted(notes))
    if errs:
        rep.fail(what, errs + [f"(Nexus GET {npath}: {label})"])
    else:
        rep.ok(what, f"vs {label}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="Arca's base URL, e.g. http://127.0.0.1:8081")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", required=True)
    ap.add_argument("--nexus", required=True, help="Nexus's OpenAPI yaml")
    ap.add_argument("--extensions", default="", help="more Arca-only path patterns, comma-separated")
    ap.add_argument("--sample", action="append", default=[], metavar="[PATH:]NAME=VALUE",
                    help="value for a path or required query parameter of the GETs checked live; NAME is "
                         "Arca's or Nexus's parameter name (Nexus's wins when both are given); PATH, an fnmatch "
                         "pattern on the /v1 template such as '/v1/tasks/*', limits it to matching paths and "
                         "wins over unscoped values; a name given several times yields every combination")
    ap.add_argument("--get", action="append", default=[], metavar="PATH",
                    help="extra concrete GET to check live, e.g. /v1/repositories/maven/hosted/maven-releases")
    ap.add_argument("--arca-doc", help="read Arca's OpenAPI document from this file instead of swagger.json")
    ap.add_argument("--no-live", action="store_true", help="only compare the documents")
    args = ap.parse_args()

    rep = Report()
    samples = []  # (path pattern or "", name, value)
    for s in args.sample:
        m = re.fullmatch(r"(?:(/[^=]*):)?([^=:/]+)=(.*)", s, re.S)
        if not m:
            ap.error(f"--sample {s}: expected NAME=VALUE or PATH-PATTERN:NAME=VALUE")
        samples.append((m.group(1) or "", m.group(2), m.group(3)))
    extensions = ARCA_EXTENSIONS + [e.strip() for e in args.extensions.split(",") if e.strip()]

    with open(args.nexus) as f:
        nx = Nexus(yaml.safe_load(f), "nexus")
    if args.arca_doc:
        with open(args.arca_doc) as f:
            raw = yaml.safe_load(f)
        src = args.arca_doc
    else:
        src = args.base.rstrip("/") + "/service/rest/swagger.json"
        try:
            status, _, body = http_get(src, args.user, args.password)
            raw = json.loads(body) if status == 200 else None
        except (urllib.error.URLError, OSError, ValueError) as e:
            status, raw = str(e), None
        if raw is None:
            rep.fail(f"GET {src}", f"Arca's OpenAPI document not available ({status})")
            print(f"\n{rep.passed} passed, {rep.failed} failed")
            return 1
    arca = Doc(raw, "arca")
    rep.ok(f"read Arca's OpenAPI document {src}", f"{len(arca.ops)} operations")

    ops = sorted((p, m) for (m, p) in arca.ops if p.startswith("/v1/") or p == "/v1")
    live = []
    for path, method in ops:
        what = f"{method.upper()} {path}"
        if is_extension(path, extensions):
            rep.extension(what)
            continue
        hits, exact, methods = nexus_matches(arca, nx, path, method)
        if not hits:
            why = (f"Nexus documents this path only with {', '.join(sorted(m.upper() for m in methods))}"
                   if exact else "Nexus does not document this path")
            rep.fail(f"{what} documented by Nexus", why)
            continue
        rep.ok(f"{what} documented by Nexus", "" if exact else f"covers {len(hits)} Nexus paths")
        check_operation(arca, nx, method, path, hits, rep)
        if method == "get":
            live.append(path)

    if not args.no_live:
        urls = []
        for path in live:
            targets = live_targets(arca, nx, path, samples, rep)
            urls += targets or []
        for g in args.get:
            bare, _, q = g.partition("?")
            urls.append(norm_path({}, bare) + ("?" + q if q else ""))
        for u in dict.fromkeys(urls):
            live_check(nx, args, u, rep)

    if rep.skipped:
        print(f"\n({rep.skipped} skipped)")
    print(f"\n{rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
