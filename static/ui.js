// Arca's web UI: copy buttons, confirmations, uploads with progress, and forms that send JSON
// to the REST API (with the session's CSRF token) and show its errors next to their fields.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function request(method, url, body, contentType) {
    const headers = { "X-CSRF-Token": csrf };
    if (contentType) headers["Content-Type"] = contentType;
    return fetch(url, { method, headers, body, credentials: "same-origin" });
  }

  async function problem(resp) {
    const text = await resp.text();
    try {
      const v = JSON.parse(text);
      if (Array.isArray(v)) return v;
      if (v && v.errors) return v.errors.map((e) => ({ id: "*", message: e.message || e.code }));
    } catch (_) { /* plain text */ }
    return [{ id: "*", message: text || resp.status + " " + resp.statusText }];
  }

  // Copy buttons: data-copy (the text) or data-copy-from (an element's text).
  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const t = document.createElement("textarea");
      t.value = text;
      document.body.appendChild(t);
      t.select();
      document.execCommand("copy");
      t.remove();
    }
  }
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-copy],[data-copy-from]");
    if (!b) return;
    const text = b.dataset.copy !== undefined ? b.dataset.copy
      : (document.getElementById(b.dataset.copyFrom) || {}).textContent || "";
    await copy(text);
    b.dataset.copied = "true";
    const was = b.textContent;
    b.textContent = "Copied";
    setTimeout(() => { b.textContent = was; }, 1500);
  });

  // Buttons that act: data-delete / data-post / data-put (with data-body), data-confirm,
  // then data-then (a page) or a reload.
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-delete],[data-post],[data-put]");
    if (!b) return;
    if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
    const [method, url] = b.dataset.delete ? ["DELETE", b.dataset.delete]
      : b.dataset.post ? ["POST", b.dataset.post] : ["PUT", b.dataset.put];
    b.disabled = true;
    const resp = await request(method, url, b.dataset.body || undefined, b.dataset.body ? "application/json" : undefined);
    if (resp.ok) {
      if (b.dataset.then) window.location.assign(b.dataset.then); else window.location.reload();
    } else {
      b.disabled = false;
      const errs = await problem(resp);
      window.alert(errs.map((e) => e.message).join("\n"));
    }
  });

  // Dotted names become nested JSON: storage.blobStoreName -> {storage: {blobStoreName}}.
  function put(obj, path, value) {
    const keys = path.split(".");
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] = o[k] || {};
    o[keys[keys.length - 1]] = value;
  }
  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }
  function formJson(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.name.startsWith("_")) continue;
      const t = el.dataset.type;
      let v;
      if (t === "bool") v = el.checked;
      else if (t === "int") { if (el.value === "") continue; v = Number(el.value); }
      else if (t === "lines") v = el.value.split(/\s*[\n,]\s*/).map((s) => s.trim()).filter(Boolean);
      else if (t === "multi") v = Array.from(el.selectedOptions).map((o) => o.value);
      else if (el.type === "checkbox") v = el.checked;
      else { if (el.value === "" && !el.required) continue; v = el.value; }
      put(out, el.name, v);
    }
    return out;
  }
  function showErrors(form, errs) {
    form.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
    for (const e of errs) {
      let field = (e.id || "*").replace(/^PARAMETER /, "");
      let slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (!slot) {
        // `storage.writePolicy` may be reported as `writePolicy`, and the other way round.
        const tail = field.split(".").pop();
        slot = Array.from(form.querySelectorAll("[data-error-for]"))
          .find((s) => s.dataset.errorFor.split(".").pop() === tail);
      }
      if (!slot) slot = form.querySelector('[data-error-for="*"]');
      if (slot) {
        slot.textContent = (slot.textContent ? slot.textContent + " " : "") + e.message;
        const input = form.querySelector(`[data-field="${CSS.escape(slot.dataset.errorFor)}"]`);
        if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
      }
    }
  }
  async function submitJson(form, method, url, body) {
    const button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    try {
      const resp = await request(method, url, JSON.stringify(body), "application/json");
      if (resp.ok) {
        showErrors(form, []);
        if (form.dataset.show === "cleanup") {
          const v = await resp.json();
          document.getElementById("cleanup-result").textContent =
            `${v.componentCount} component(s) of ${v.repository} would be deleted.`;
          return;
        }
        if (form.dataset.show === "token") {
          const v = await resp.json();
          const out = document.getElementById("new-token");
          out.textContent = v.token;
          out.hidden = false;
          form.reset();
          return;
        }
        if (form.dataset.then) window.location.assign(form.dataset.then); else window.location.reload();
      } else {
        showErrors(form, await problem(resp));
      }
    } finally {
      if (button) button.disabled = false;
    }
  }

  // Generic admin forms: data-api, data-method, data-extra (JSON merged in).
  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = Object.assign(formJson(form), form.dataset.extra ? JSON.parse(form.dataset.extra) : {});
      submitJson(form, form.dataset.method || "POST", form.dataset.api, body);
    });
  });

  // The repository form: the format and type pick the fieldsets and the endpoint.
  const repoForm = document.getElementById("repo-form");
  if (repoForm) {
    const fmt = document.getElementById("repo-format");
    const typ = document.getElementById("repo-type");
    const data = JSON.parse(document.getElementById("repo-data").textContent || "null");
    function sync() {
      const opt = fmt.selectedOptions[0];
      const kinds = (opt.dataset.kinds || "").split(" ");
      for (const o of typ.options) o.hidden = !kinds.includes(o.value);
      if (!kinds.includes(typ.value)) typ.value = kinds[0];
      repoForm.querySelectorAll("[data-formats],[data-types]").forEach((fs) => {
        const okF = !fs.dataset.formats || fs.dataset.formats.split(" ").includes(fmt.value);
        const okT = !fs.dataset.types || fs.dataset.types.split(" ").includes(typ.value);
        fs.hidden = !(okF && okT);
        fs.querySelectorAll("input,select,textarea").forEach((i) => { i.disabled = fs.hidden; });
        if (fs.tagName !== "FIELDSET" && fs.matches("input,select,textarea")) fs.disabled = fs.hidden;
      });
    }
    if (data) {
      fmt.value = data.format;
      typ.value = data.type;
      for (const el of repoForm.elements) {
        if (!el.name || el.name.startsWith("_")) continue;
        const v = get(data, el.name);
        if (v === undefined || v === null) continue;
        if (el.dataset.type === "bool" || el.type === "checkbox") el.checked = !!v;
        else if (el.dataset.type === "lines") el.value = v.join("\n");
        else el.value = v;
      }
    }
    fmt.addEventListener("change", sync);
    typ.addEventListener("change", sync);
    sync();
    repoForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const api = fmt.selectedOptions[0].dataset.api;
      const body = formJson(repoForm);
      const editing = repoForm.dataset.editing;
      const url = `/service/rest/v1/repositories/${api}/${typ.value}` + (editing ? `/${encodeURIComponent(editing)}` : "");
      repoForm.dataset.then = "/ui/admin/repositories";
      submitJson(repoForm, editing ? "PUT" : "POST", url, body);
    });
  }

  // Uploads: the format's multipart form, posted with progress to the components endpoint.
  const up = document.getElementById("upload-form");
  if (up) {
    const template = up.querySelector("[data-asset-template]");
    const add = document.getElementById("add-file");
    if (add) add.addEventListener("click", () => {
      const copy = template.cloneNode(true);
      copy.querySelectorAll("input").forEach((i) => { i.value = ""; });
      add.before(copy);
    });
    up.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const fd = new FormData();
      for (const el of up.elements) {
        if (!el.name) continue;
        if (el.type === "checkbox") { if (el.checked) fd.append(el.name, "true"); continue; }
        if (el.value !== "") fd.append(el.name, el.value);
      }
      const multiple = up.dataset.multiple === "true";
      up.querySelectorAll("[data-asset-template]").forEach((fs, i) => {
        const name = up.dataset.assetBase + (multiple ? String(i + 1) : "");
        fs.querySelectorAll("[data-asset-field]").forEach((f) => {
          if (f.value !== "") fd.append(`${name}.${f.dataset.assetField}`, f.value);
        });
        const file = fs.querySelector("[data-asset-file]").files[0];
        if (file) fd.append(name, file, file.name);
      });
      const bar = document.getElementById("upload-progress");
      const result = document.getElementById("upload-result");
      const button = document.getElementById("upload-button");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", up.dataset.upload);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      });
      xhr.addEventListener("load", () => {
        button.disabled = false;
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          result.className = "ok";
          result.innerHTML = `Uploaded. <a href="${up.dataset.then}">See it in the repository</a>.`;
        } else {
          result.className = "error";
          result.textContent = `Refused (${xhr.status}): ${xhr.responseText}`;
        }
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        result.className = "error";
        result.textContent = "The upload failed: the connection broke.";
      });
      bar.hidden = false;
      bar.value = 0;
      result.textContent = "";
      button.disabled = true;
      xhr.send(fd);
    });
  }
})();
