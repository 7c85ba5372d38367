// The API page: renders /service/rest/swagger.json grouped by tag, with a "Try it" form per
// operation. Plain JS, no dependencies; text goes in with textContent, never as HTML.
"use strict";

(() => {
  const DOC_URL = "/service/rest/swagger.json";
  const root = document.getElementById("api");
  let doc = { components: { schemas: {} } };

  /** `el("a", {href: "/"}, "text", child)`: an element with attributes and children. */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) {
      if (k !== undefined && k !== null && k !== false) e.append(k);
    }
    return e;
  }

  const refName = (ref) => ref.replace("#/components/schemas/", "");
  const deref = (s) => (s && s.$ref ? doc.components.schemas[refName(s.$ref)] || {} : s || {});

  /** The schema without its `null` alternative, and whether there was one. */
  function unnull(s) {
    if (!s) return [{}, false];
    if (Array.isArray(s.type) && s.type.includes("null")) {
      const rest = s.type.filter((t) => t !== "null");
      return [{ ...s, type: rest.length === 1 ? rest[0] : rest }, true];
    }
    for (const k of ["oneOf", "anyOf"]) {
      if (s[k] && s[k].some((x) => x.type === "null")) {
        const rest = s[k].filter((x) => x.type !== "null");
        return [rest.length === 1 ? rest[0] : { [k]: rest }, true];
      }
    }
    return [s, false];
  }

  /** A short type label: `string (date-time)`, `AssetXO[]`, `"OK" | "FAILED"`, with `?` if nullable. */
  function typeLabel(schema) {
    const [s, nullable] = unnull(schema);
    let t;
    if (s.$ref) t = refName(s.$ref);
    else if (s.oneOf || s.anyOf) t = (s.oneOf || s.anyOf).map(typeLabel).join(" | ");
    else if (s.enum) t = s.enum.map((v) => JSON.stringify(v)).join(" | ");
    else if (s.type === "array") t = `${typeLabel(s.items)}[]`;
    else if (s.type === "object" && s.additionalProperties && !s.properties) t = "object (map)";
    else t = `${[s.type || "any"].flat().join(" | ")}${s.format ? ` (${s.format})` : ""}`;
    return nullable ? `${t} or null` : t;
  }

  /** The named schema a property leads to (through null, arrays), if it is worth expanding. */
  function nestedRef(schema) {
    let [s] = unnull(schema);
    while (s && s.type === "array") [s] = unnull(s.items);
    return s && s.$ref ? s : null;
  }

  /** A schema as an expandable tree; named schemas render when first opened. */
  function schemaTree(schema, depth = 0) {
    const [s] = unnull(schema);
    if (depth > 12) return el("span", { class: "muted" }, "…");
    if (s.$ref) {
      const d = el("details", { class: "schema" }, el("summary", {}, refName(s.$ref)));
      let done = false;
      d.addEventListener("toggle", () => {
        if (d.open && !done) {
          done = true;
          d.append(schemaBody(deref(s), depth + 1));
        }
      });
      return d;
    }
    return schemaBody(s, depth);
  }

  function schemaBody(s, depth) {
    const alts = s.oneOf || s.anyOf;
    if (alts) {
      return el("div", {}, el("div", { class: "muted" }, "One of:"), alts.map((a) => schemaTree(a, depth + 1)));
    }
    if (s.type === "array") {
      return el("div", {}, el("span", { class: "muted" }, "A list of: "), schemaTree(s.items, depth + 1));
    }
    const parts = [];
    if (s.description) parts.push(el("p", { class: "muted" }, s.description));
    if (s.enum) parts.push(el("div", {}, "One of ", el("code", {}, s.enum.join(", "))));
    if (s.properties) {
      const req = new Set(s.required || []);
      const rows = Object.entries(s.properties).map(([name, p]) => {
        const pd = deref(p);
        const notes = [p.description || (p.$ref ? "" : pd.description) || ""];
        if (p.writeOnly) notes.push("(write-only)");
        if (p.minimum !== undefined || p.maximum !== undefined) notes.push(`(${p.minimum ?? ""}…${p.maximum ?? ""})`);
        const nested = nestedRef(p);
        return el("tr", {},
          el("td", {}, el("code", {}, name), req.has(name) ? el("span", { class: "req", title: "required" }, " *") : null),
          el("td", {}, el("span", { class: "type" }, typeLabel(p))),
          el("td", {}, notes.filter(Boolean).join(" "), nested ? schemaTree(nested, depth + 1) : null));
      });
      parts.push(el("table", { class: "fields" }, el("tr", {}, el("th", {}, "Field"), el("th", {}, "Type"), el("th", {}, "")), rows));
    } else if (!s.enum) {
      parts.push(el("span", { class: "type" }, typeLabel(s)));
    }
    return el("div", {}, parts);
  }

  /** A value of the schema's shape to start a request body from. */
  function skeleton(schema, depth = 0) {
    const [s0] = unnull(schema);
    const s = deref(s0);
    if (depth > 8) return null;
    if (s.example !== undefined) return s.example;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.oneOf || s.anyOf) return skeleton((s.oneOf || s.anyOf)[0], depth + 1);
    if (s.enum) return s.enum[0];
    switch ([s.type].flat()[0]) {
      case "object": {
        const out = {};
        for (const [k, p] of Object.entries(s.properties || {})) {
          if (!deref(p).readOnly && !p.readOnly) out[k] = skeleton(p, depth + 1);
        }
        return out;
      }
      case "array": return [];
      case "integer": case "number": return 0;
      case "boolean": return false;
      case "string": return "";
      default: return null;
    }
  }

  function paramInput(p, id) {
    const s = deref(unnull(p.schema)[0]);
    if (s.enum) {
      return el("select", { id, name: p.name }, p.required ? null : el("option", { value: "" }, ""),
        s.enum.map((v) => el("option", { value: v }, v)));
    }
    return el("input", { id, name: p.name, type: "text", placeholder: typeLabel(p.schema), required: p.required });
  }

  function authHeaders() {
    const kind = document.getElementById("auth-kind").value;
    const user = document.getElementById("auth-user").value;
    const secret = document.getElementById("auth-secret").value;
    if (kind === "basic") {
      const bytes = new TextEncoder().encode(`${user}:${secret}`);
      return { Authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` };
    }
    if (kind === "bearer") return { Authorization: `Bearer ${secret}` };
    return {};
  }

  /** The "Try it" form of an operation. */
  function tryIt(method, path, op, uid) {
    const params = op.parameters || [];
    const inputs = params.map((p, i) => {
      const id = `${uid}-p${i}`;
      return [p, el("label", { for: id }, el("code", {}, p.name), ` (${p.in})${p.required ? " *" : ""} `, paramInput(p, id))];
    });
    const body = op.requestBody && op.requestBody.content;
    const ctype = body ? Object.keys(body)[0] : null;
    const bodySchema = body ? body[ctype].schema : null;
    let bodyField = null;
    let formFields = [];
    const bodyParts = [];
    if (ctype === "multipart/form-data") {
      const s = deref(bodySchema);
      formFields = Object.entries(s.properties || {}).map(([name, p], i) => {
        const id = `${uid}-f${i}`;
        const file = deref(unnull(p)[0]).format === "binary" || unnull(p)[0].contentMediaType;
        const input = el("input", { id, name, type: file ? "file" : "text" });
        bodyParts.push(el("label", { for: id }, el("code", {}, name), " ", input));
        return [name, input, file];
      });
    } else if (ctype) {
      bodyField = el("textarea", { spellcheck: "false", "aria-label": "request body" });
      const alts = (deref(bodySchema).oneOf || []).filter((a) => a.$ref);
      const fill = (s) => {
        bodyField.value = ctype.includes("json") ? JSON.stringify(skeleton(s), null, 2) : "";
      };
      fill(alts.length ? alts[0] : bodySchema);
      if (alts.length) {
        const pick = el("select", { onchange: () => fill(alts[pick.selectedIndex]) },
          alts.map((a) => el("option", {}, refName(a.$ref))));
        bodyParts.push(el("label", {}, "Body shape ", pick));
      }
      bodyParts.push(el("label", {}, `Body (${ctype})`), bodyField);
    }
    const out = el("pre", { class: "out", hidden: true });
    const send = async (ev) => {
      ev.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const [p, label] of inputs) {
        const v = label.querySelector("input, select").value;
        if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(v));
        else if (p.in === "query" && v !== "") query.append(p.name, v);
      }
      if ([...query].length) url += `?${query}`;
      const init = { method: method.toUpperCase(), credentials: "same-origin", headers: authHeaders(), redirect: "manual" };
      if (bodyField) {
        init.headers["Content-Type"] = ctype;
        init.body = bodyField.value;
      } else if (formFields.length) {
        const form = new FormData();
        for (const [name, input, file] of formFields) {
          if (file && input.files.length) form.append(name, input.files[0]);
          else if (!file && input.value !== "") form.append(name, input.value);
        }
        init.body = form;
      }
      out.hidden = false;
      out.textContent = `${init.method} ${url} …`;
      try {
        const r = await fetch(url, init);
        let text = await r.text();
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ }
        const where = r.type === "opaqueredirect" ? "a redirect (see Location)" : r.statusText;
        out.textContent = `${init.method} ${url}\n${r.status || 302} ${where}\n\n${text}`;
      } catch (e) {
        out.textContent = `${init.method} ${url}\nfailed: ${e}`;
      }
    };
    return el("form", { class: "try", onsubmit: send },
      el("strong", {}, "Try it"), inputs.map(([, label]) => label), bodyParts,
      el("p", {}, el("button", { type: "submit" }, "Send")), out);
  }

  function operation(method, path, op, uid) {
    const parts = [];
    if (op.description && op.description !== op.summary) parts.push(el("p", {}, op.description));
    if (op.security && op.security.some((s) => Object.keys(s).length === 0)) {
      parts.push(el("p", { class: "muted" }, "No credentials needed."));
    }
    const params = op.parameters || [];
    if (params.length) {
      parts.push(el("h4", {}, "Parameters"), el("table", { class: "fields" },
        el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "")),
        params.map((p) => el("tr", {},
          el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req", title: "required" }, " *") : null),
          el("td", {}, p.in),
          el("td", {}, el("span", { class: "type" }, typeLabel(p.schema)), nestedRef(p.schema) ? schemaTree(nestedRef(p.schema)) : null),
          el("td", {}, p.description || "")))));
    }
    const body = op.requestBody && op.requestBody.content;
    if (body) {
      parts.push(el("h4", {}, "Request body"));
      if (op.requestBody.description) parts.push(el("p", {}, op.requestBody.description));
      for (const [ct, media] of Object.entries(body)) {
        parts.push(el("div", {}, el("code", {}, ct), " ", schemaTree(media.schema || {})));
      }
    }
    parts.push(el("h4", {}, "Responses"), el("table", { class: "fields" },
      el("tr", {}, el("th", {}, "Status"), el("th", {}, "Description"), el("th", {}, "Body")),
      Object.entries(op.responses || {}).map(([code, r]) => el("tr", {},
        el("td", {}, el("code", {}, code)),
        el("td", {}, r.description || ""),
        el("td", {}, Object.entries(r.content || {}).map(([ct, media]) =>
          el("div", {}, el("code", {}, ct), " ", media.schema ? schemaTree(media.schema) : null)))))));
    parts.push(tryIt(method, path, op, uid));
    const d = el("details", { class: "op", id: op.operationId },
      el("summary", {}, el("span", { class: `method ${method}` }, method), el("span", { class: "path" }, path),
        el("span", { class: "summary" }, op.summary || "")));
    let done = false;
    d.addEventListener("toggle", () => {
      if (d.open && !done) {
        done = true;
        d.append(el("div", { class: "op-body" }, parts));
      }
    });
    return d;
  }

  function render() {
    const tags = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    let n = 0;
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of ["get", "put", "post", "delete", "patch", "head", "options"]) {
        const op = item[method];
        if (!op) continue;
        const name = (op.tags && op.tags[0]) || "Other";
        if (!tags.has(name)) tags.set(name, { tag: { name }, ops: [] });
        tags.get(name).ops.push(operation(method, path, op, `op${n++}`));
      }
    }
    const info = doc.info || {};
    root.replaceChildren(
      el("p", { class: "muted" }, `${info.title || ""} ${info.version || ""} · ${n} operations`),
      ...[...tags.values()].filter((t) => t.ops.length).map(({ tag, ops }) =>
        el("details", { class: "tag", open: true }, el("summary", {}, tag.name),
          tag.description ? el("p", { class: "muted" }, tag.description) : null, ops)));
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target && target.tagName === "DETAILS") {
        target.open = true;
        target.scrollIntoView();
      }
    }
  }

  document.getElementById("auth").addEventListener("submit", (e) => e.preventDefault());
  const kind = document.getElementById("auth-kind");
  kind.addEventListener("change", () => {
    document.getElementById("auth-user").hidden = kind.value !== "basic";
    document.getElementById("auth-secret").hidden = kind.value === "browser";
  });

  fetch(DOC_URL, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status} ${r.statusText}`))))
    .then((d) => {
      doc = d;
      doc.components = doc.components || {};
      doc.components.schemas = doc.components.schemas || {};
      render();
    })
    .catch((e) => root.replaceChildren(el("p", {}, `Could not load ${DOC_URL}: ${e.message}`)));
})();
