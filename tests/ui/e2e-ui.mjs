// The web UI in headless Chromium (Debian's, driven by playwright-core): sign-in with a wrong
// then the right password, repositories created through the forms (with a validation error
// shown on its field), an asset uploaded by twine browsed to and its usage snippet copied,
// search by name and by checksum, a read-only user who sees no administration and cannot
// delete, sign-out. Screenshots of the main pages go to $SHOTS.
// Env: URL, PW (admin), WHEEL_SHA256, WHEEL_NAME, SHOTS, UI_NODE_DIR. Exit status 1 on the first failure.
import { createRequire } from "node:module";

// playwright-core lives in the test tool cache, not in the repository (ESM ignores NODE_PATH).
const require = createRequire(`${process.env.UI_NODE_DIR}/`);
const { chromium } = require("playwright-core");

const { URL: BASE, PW, WHEEL_SHA256, WHEEL_NAME, SHOTS } = process.env;
let passed = 0;
function ok(what) { passed++; console.log(`ok   ${what}`); }
function check(cond, what, detail = "") {
  if (!cond) throw new Error(`${what}${detail ? ": " + detail : ""}`);
  ok(what);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  const signIn = async (user, pass) => {
    await page.goto(`${BASE}/ui/login`);
    await page.fill("#username", user);
    await page.fill("#password", pass);
    await Promise.all([page.waitForLoadState("load"), page.click("#sign-in")]);
  };

  // Anonymous: no administration; the admin pages send you to sign in.
  await page.goto(`${BASE}/ui/admin`);
  check(page.url().includes("/ui/login?next=/ui/admin"), "anonymous is sent to sign in", page.url());

  // Wrong password, then the right one.
  await signIn("admin", "not-the-password");
  check(await page.isVisible("#login-error"), "a wrong password is refused on the page",
    await page.textContent("body"));
  await shot("sign-in");
  await signIn("admin", PW);
  check(await page.isVisible("#nav-admin"), "admin signed in sees Administration");
  check((await page.textContent("#nav-user")).trim() === "admin", "the header names the user");
  await page.goto(`${BASE}/`);
  check(await page.isVisible('tr.repo[data-name="pypi-hosted"]'), "the repository list shows pypi-hosted");

  // A hosted repository through the form: first a bad name, shown on its field.
  await page.goto(`${BASE}/ui/admin/repositories/new`);
  await page.selectOption("#repo-format", "raw");
  await page.selectOption("#repo-type", "hosted");
  await page.fill("#repo-name", "_bad name");
  await page.click("#save");
  await page.waitForFunction(() => document.querySelector('[data-error-for="name"]').textContent.length > 0);
  const nameError = await page.textContent('[data-error-for="name"]');
  check(/name/i.test(nameError), "an invalid name is shown next to the name field", nameError);
  check(await page.$eval("#repo-name", (e) => e.classList.contains("invalid")), "the name field is marked invalid");
  await shot("repository-form-error");
  await page.fill("#repo-name", "ui-raw");
  await Promise.all([page.waitForURL(`${BASE}/ui/admin/repositories`), page.click("#save")]);
  check(await page.isVisible('tr.repo[data-name="ui-raw"]'), "the hosted repository was created");

  // Upload into it through the browser (the REST components upload underneath), with progress.
  await page.goto(`${BASE}/ui/upload/ui-raw`);
  await page.fill('input[name="raw.directory"]', "/docs");
  await page.setInputFiles("[data-asset-file]",
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello from the browser\n") });
  await page.fill('[data-asset-field="filename"]', "notes.txt");
  await page.click("#upload-button");
  await page.waitForFunction(() => document.getElementById("upload-result").textContent.length > 0);
  const uploaded = await page.textContent("#upload-result");
  check(uploaded.startsWith("Uploaded"), "a file uploads through the browser", uploaded);
  check(await page.$eval("#upload-progress", (p) => p.value) === 100, "the progress bar reached the end");
  const served = await page.evaluate(async () => (await fetch("/repository/ui-raw/docs/notes.txt")).text());
  check(served === "hello from the browser\n", "and the repository serves it", served);
  await shot("upload");

  // A proxy through the form.
  await page.goto(`${BASE}/ui/admin/repositories/new`);
  await page.selectOption("#repo-format", "pypi");
  await page.selectOption("#repo-type", "proxy");
  check(await page.isVisible("#remote-url"), "the proxy fields appear for a proxy");
  await page.fill("#repo-name", "ui-proxy");
  await page.fill("#remote-url", "http://127.0.0.1:9/");
  await Promise.all([page.waitForURL(`${BASE}/ui/admin/repositories`), page.click("#save")]);
  const proxy = await page.evaluate(async () =>
    (await fetch("/service/rest/v1/repositories/pypi/proxy/ui-proxy")).json());
  check(proxy.proxy && proxy.proxy.remoteUrl === "http://127.0.0.1:9/", "the proxy was created with its remote",
    JSON.stringify(proxy));
  await shot("admin-repositories");

  // A cleanup policy through its form (a bad expression shown on its field), previewed.
  await page.goto(`${BASE}/ui/admin/cleanup`);
  await page.fill("#policy-name", "old-docs");
  await page.fill("#policy-regex", "docs/(");
  await page.click("#create-policy");
  await page.waitForFunction(() => document.querySelector('[data-error-for="criteriaAssetRegex"]').textContent.length > 0);
  ok("an invalid expression is shown next to its field");
  await page.fill("#policy-regex", "docs/.*");
  await Promise.all([page.waitForLoadState("load"), page.click("#create-policy")]);
  await page.waitForSelector('tr.policy[data-name="old-docs"]');
  ok("the cleanup policy was created");
  await page.selectOption('#preview-form select[name="repository"]', "ui-raw");
  await page.selectOption('#preview-form select[name="policy"]', "old-docs");
  await page.click('#preview-form button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("cleanup-result").textContent.length > 0);
  const preview = await page.textContent("#cleanup-result");
  check(preview.startsWith("1 component"), "a dry run counts what the policy would delete", preview);
  check((await page.evaluate(async () => (await fetch("/repository/ui-raw/docs/notes.txt")).status)) === 200,
    "and deletes nothing");
  // A scheduled task through its form: a bad cron expression shown on its field, then a good one.
  await page.goto(`${BASE}/ui/admin/tasks`);
  await page.selectOption("#task-type", "repository.docker.gc");
  await page.fill("#task-name", "ui docker gc");
  await page.selectOption("#task-schedule", "cron");
  await page.fill("#task-cron", "0 0 12 * *");
  await page.click("#task-create");
  await page.waitForFunction(() => document.querySelector('[data-error-for="frequency.cronExpression"]').textContent.length > 0);
  ok("an invalid cron expression is shown next to its field");
  await page.fill("#task-cron", "0 0 12 * * ?");
  await Promise.all([page.waitForLoadState("load"), page.click("#task-create")]);
  await page.waitForSelector('tr.task:has-text("ui docker gc")');
  const row = await page.textContent('tr.task:has-text("ui docker gc")');
  check(row.includes("cron 0 0 12 * * ?") && row.includes("12:00"), "the task is listed with its schedule and next run", row);
  await shot("tasks");
  await page.goto(`${BASE}/ui/admin/blobstores`);
  check((await page.textContent("#blobstores thead")).includes("Reclaimable"),
    "the blob stores list their reclaimable bytes and last collection");
  await page.goto(`${BASE}/`);
  check(await page.isVisible('tr.repo[data-name="ui-proxy"]'), "the repository list shows the new ones");
  await shot("repositories");

  // Browse to the wheel twine uploaded and copy its pip snippet.
  await page.goto(`${BASE}/ui/browse/pypi-hosted/`);
  for (let depth = 0; depth < 6 && !page.url().includes("/ui/assets/"); depth++) {
    const links = await page.$$eval("a.entry-link", (as) => as.map((a) => [a.textContent.trim(), a.href]));
    const next = links.find(([t]) => t.endsWith(".whl")) || links.find(([t]) => t.includes("/"));
    if (!next) break;
    await page.goto(next[1]);
  }
  check(page.url().includes("/ui/assets/"), "browsed down to the wheel's page", page.url());
  check((await page.textContent("#asset-path")).endsWith(WHEEL_NAME), "the asset is the uploaded wheel");
  check((await page.textContent("#asset-sha256")).trim() === WHEEL_SHA256, "its SHA-256 is the file's");
  const snippets = await page.$$eval("pre.snippet", (ps) => ps.map((p) => [p.id, p.textContent]));
  const pip = snippets.find(([, t]) => t.startsWith("pip install"));
  check(pip && pip[1].includes("arca-demo=="), "a pip snippet names the package and version", JSON.stringify(snippets));
  await page.click(`button[data-copy-from="${pip[0]}"]`);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied === pip[1], "Copy puts the snippet on the clipboard", copied);
  check(await page.isVisible("#delete"), "admin sees Delete");
  await shot("asset");

  // Search by name, then by checksum.
  await page.goto(`${BASE}/ui/search`);
  await page.fill("#q", "arca-demo");
  await Promise.all([page.waitForLoadState("load"), page.click("#search-button")]);
  const byName = await page.$$eval("tr.result a", (as) => as.map((a) => a.textContent));
  check(byName.some((t) => t.endsWith(".whl")), "search by name finds the wheel", JSON.stringify(byName));
  await page.fill("#q", "");
  await page.fill("#checksum", WHEEL_SHA256);
  await Promise.all([page.waitForLoadState("load"), page.click("#search-button")]);
  const bySum = await page.$$eval("tr.result a", (as) => as.map((a) => a.textContent));
  check(bySum.length === 1 && bySum[0].endsWith(WHEEL_NAME), "search by checksum finds exactly the wheel", JSON.stringify(bySum));
  await shot("search");
  // Dark mode follows the system setting.
  await page.emulateMedia({ colorScheme: "dark" });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== "rgb(255, 255, 255)", "dark mode follows the system setting", bg);
  await shot("search-dark");
  await page.emulateMedia({ colorScheme: "light" });
  const assetUrl = await page.$eval("tr.result a", (a) => a.href);

  // A read-only role and a user holding it, through the forms.
  await page.goto(`${BASE}/ui/admin/roles`);
  await page.fill("#role-id", "ui-readers");
  await page.fill("#role-name", "UI readers");
  await page.selectOption("#role-privileges", ["nx-repository-view-*-*-browse", "nx-repository-view-*-*-read"]);
  await Promise.all([page.waitForLoadState("load"), page.click("#create-role")]);
  await page.waitForSelector('tr.role[data-id="ui-readers"]');
  ok("the read-only role was created");
  await page.goto(`${BASE}/ui/admin/users`);
  await page.fill("#user-id", "viewer");
  await page.fill("#user-password", "viewer-pass-123");
  await page.fill('input[name="firstName"]', "View");
  await page.fill('input[name="lastName"]', "Er");
  await page.fill('input[name="emailAddress"]', "viewer@example.org");
  await page.selectOption("#user-roles", ["ui-readers"]);
  await Promise.all([page.waitForLoadState("load"), page.click("#create-user")]);
  await page.waitForSelector('tr.user[data-id="viewer"]');
  ok("the user was created with the role");
  await page.goto(`${BASE}/ui/admin`);
  await shot("admin-system");

  // Sign out, in as the viewer.
  await Promise.all([page.waitForLoadState("load"), page.click("#sign-out")]);
  check(await page.isVisible("#nav-sign-in"), "signed out: Sign in is offered");
  await signIn("viewer", "viewer-pass-123");
  check(!(await page.isVisible("#nav-admin")), "the viewer sees no Administration link");
  const resp = await page.goto(`${BASE}/ui/admin/users`);
  check(resp.status() === 403, "the viewer is refused the admin pages", String(resp.status()));
  await page.goto(assetUrl);
  check(!(await page.isVisible("#delete")), "the viewer sees no Delete button");
  const del = await page.evaluate(async (id) => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch(`/service/rest/v1/assets/${id}`, { method: "DELETE", headers: { "X-CSRF-Token": csrf } });
    return r.status;
  }, assetUrl.split("/").pop());
  check(del === 403, "and the server refuses the viewer's delete", String(del));
  const forged = await page.evaluate(async (id) =>
    (await fetch(`/service/rest/v1/assets/${id}`, { method: "DELETE" })).status, assetUrl.split("/").pop());
  check(forged === 403, "a state-changing request without the CSRF token is refused", String(forged));
  await Promise.all([page.waitForLoadState("load"), page.click("#sign-out")]);
  check(await page.isVisible("#nav-sign-in"), "the viewer signed out");
} catch (e) {
  failed = true;
  console.log(`FAIL ${e.message}`);
} finally {
  await browser.close();
}
console.log(`\ne2e-ui: ${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
