"""The console's audit and administration pages in a real browser against the whole stack:
a group made with roles in the grid gives a user the permission (seen by that user's own
console); a new event shows in the live audit view and leads to its object's history; an
API token is created, its key copied once, used and revoked; a file above the server's
limit is refused before its upload starts."""
import re
import uuid
from datetime import date, timedelta

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN
from tests.e2e.console.test_console_browser import api, nav, new_user


def admin_page(console, path: str):
    page = console.page
    console.sign_in(*ADMIN)
    page.goto(console.url(path))
    return page


def test_a_group_made_with_roles_gives_its_member_the_permission(console):
    group, name = f"grp-{uuid.uuid4().hex[:6]}", f"member-{uuid.uuid4().hex[:6]}"
    password = f"Secret-9x-{uuid.uuid4().hex[:8]}"
    page = admin_page(console, "/console/admin")
    page.get_by_role("link", name="Users", exact=True).click()
    new_user = page.get_by_role("form", name="New user")
    new_user.get_by_label("Username").fill(name)
    new_user.get_by_label("Password", exact=True).fill("short")
    new_user.get_by_role("button", name="Create user").click()
    expect(page.locator("#new-user-password-error")).to_be_visible()  # next to its field
    expect(new_user.get_by_label("Username")).to_have_value(name)  # what was typed is kept
    new_user.get_by_label("Password", exact=True).fill(password)
    new_user.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status").filter(has_text=f"User {name} created")).to_be_visible()

    # the member's own console: no upload offered for parts yet
    member = console.new_page()
    console.sign_in(name, password, page=member)
    member.goto(console.url("/console/attachments"))
    member.get_by_label("Model type").select_option("part")
    expect(member.get_by_text("Your roles do not allow adding attachments")).to_be_visible()
    expect(member.get_by_role("heading", name="Upload files")).to_have_count(0)

    page.goto(console.url("/console/admin/groups"))
    form = page.get_by_role("form", name="New group")
    form.get_by_label("Group name").fill(group)
    form.get_by_label("Parts: change", exact=True).check()
    expect(form.get_by_label("Parts: view", exact=True)).to_be_checked()  # change needs view
    form.get_by_role("button", name="Create group").click()
    row = page.locator("table.groups tbody tr").filter(has_text=group)
    expect(row).to_contain_text("Parts: view, change")

    nav(page, "Administration").click()
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Search users").fill(name)
    page.get_by_role("button", name=f"Edit user {name}").click()
    page.get_by_role("form", name=f"Edit user {name}").get_by_label(group).check()
    page.get_by_role("button", name="Save user").click()
    expect(page.locator("table.users tbody tr").filter(has_text=name)).to_contain_text(group)

    member.goto(console.url("/console/account"))
    expect(member.locator('li[data-role="part"]')).to_have_text("Parts: view, change")
    nav(member, "Attachments").click()
    member.get_by_label("Model type").select_option("part")
    member.get_by_label("Object id").fill("7")
    expect(member.get_by_role("heading", name="Upload files")).to_be_visible()
    member.get_by_label("Model type").select_option("stockitem")
    expect(member.get_by_text("Your roles do not allow adding attachments")).to_be_visible()
    roles = api("GET", console.base, "/api/user/roles/", (name, password)).json()
    assert roles["roles"]["part"] == ["view", "change"] and roles["roles"]["stock"] is None


def test_a_new_event_appears_in_the_live_audit_view(console):
    code = f"AUD{uuid.uuid4().hex[:6].upper()}"
    page = admin_page(console, "/console/audit")
    service = page.get_by_role("combobox", name="Service")  # once the event catalog is in
    expect(service).to_be_visible()
    service.select_option("system")
    page.get_by_label("Event type").fill("project_code.created")
    expect(page).to_have_url(re.compile(r"service=system&type=project_code\.created"))
    page.get_by_role("button", name="Live view").click()
    expect(page.get_by_text("Live: new events appear as they are recorded")).to_be_visible()

    r = api("POST", console.base, "/api/project-code/", ADMIN,
            json={"code": code, "description": "seen live"})
    assert r.status_code == 201, r.text
    pk = r.json()["pk"]
    row = page.locator("table.events tbody tr.fresh").filter(
        has=page.get_by_role("link", name=f"History of project_code {pk}"))
    expect(row).to_be_visible(timeout=20_000)  # relay, broker and audit service, then a poll
    expect(row).to_contain_text("admin")
    expect(page.get_by_role("status").filter(has_text="new event")).to_have_count(1)

    page.get_by_role("button", name="Pause live view").click()
    row.get_by_role("link", name=f"History of project_code {pk}").click()
    expect(page.get_by_role("heading", name=f"History of project_code {pk}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"stream_type=project_code&stream_id={pk}"))
    page.get_by_label("Event type").fill("")
    api("PATCH", console.base, f"/api/project-code/{pk}/", ADMIN, json={"description": "later"})
    page.get_by_role("button", name="Live view").click()
    history = page.locator("table.events tbody tr")
    expect(history).to_have_count(2, timeout=20_000)
    expect(history.nth(0)).to_contain_text("project_code.updated")
    expect(history.nth(1)).to_contain_text("project_code.created")


def test_an_api_token_is_created_copied_once_used_and_revoked(console):
    console.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = admin_page(console, "/console/account")
    page.get_by_role("link", name="Your API tokens").click()
    name = f"script-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Token name").fill(name)
    page.get_by_label("Expires on").fill(date.today().isoformat())
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#field-expiry-error")).to_contain_text("must be in the future")
    expect(page.get_by_label("Token name")).to_have_value(name)  # what was typed is kept
    expiry = (date.today() + timedelta(days=30)).isoformat()
    page.get_by_label("Expires on").fill(expiry)
    page.get_by_role("button", name="Create token").click()
    key = page.get_by_label("Key", exact=True).input_value()
    assert re.fullmatch(r"inv-[0-9a-f]{40}-\d{8}", key)
    expect(page.get_by_text(f"It expires on {expiry}.")).to_be_visible()
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("status").filter(has_text="Key copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    expect(page.get_by_label("Key", exact=True)).to_have_count(0)  # shown once only
    assert key not in page.content()
    row = page.locator("table.tokens tbody tr").filter(has_text=name)
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(expiry)

    token = {"Authorization": f"Token {key}"}
    assert requests.get(console.url("/api/user/me/"), headers=token, timeout=30).status_code == 200

    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Revoke {name}").click()
    expect(row).to_contain_text("revoked")
    answer = requests.get(console.url("/api/user/me/"), headers=token, timeout=30)
    assert (answer.status_code, answer.json()) == (401, {"detail": "Token has been revoked"})


def test_a_file_above_the_limit_is_refused_before_its_upload(console, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (2 * 1024 * 1024 + 1))  # the stack's ATTACHMENT_MAX_BYTES + 1
    model_id = str(uuid.uuid4().int % 10 ** 6)
    page = admin_page(console, "/console/attachments")
    page.get_by_label("Model type").select_option("part")
    page.get_by_label("Object id").fill(model_id)
    expect(page.get_by_text("up to 2.0 MB each")).to_be_visible()
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
    page.get_by_label("Files", exact=True).set_input_files(str(big))
    expect(page.get_by_role("alert")).to_contain_text(
        "“big.bin” is too large: 2,097,153 bytes, and the server accepts files of up to "
        "2,097,152 bytes (2.0 MB).")
    assert uploads == []
    found = api("GET", console.base, "/api/attachment/", ADMIN,
                params={"model_type": "part", "model_id": model_id}).json()
    assert found == []


def test_an_import_file_above_the_limit_is_refused_before_its_upload(console, tmp_path):
    meta = api("OPTIONS", console.base, "/api/importer/session/", ADMIN).json()
    limit = meta["actions"]["POST"]["data_file"]["max_size"]  # IMPORT_MAX_BYTES
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(limit + 1)  # sparse: no disk used, and chromium reads only its size
    page = admin_page(console, "/console/imports")
    expect(page.get_by_text(re.compile(r"Drop the file here, or choose it \(up to "))).to_be_visible()
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
    page.get_by_label(re.compile("^Data file")).set_input_files(str(big))
    expect(page.locator("#field-data_file-error")).to_contain_text(
        f"“big.csv” is too large: {limit + 1:,} bytes, and the server accepts files of up "
        f"to {limit:,} bytes ")
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.locator("#field-data_file-error")).to_contain_text("Choose a file to import.")
    assert uploads == []


NEW_PAGES = {"/console/audit": "Audit", "/console/admin": "Administration",
             "/console/admin/users": "Users", "/console/admin/groups": "Groups",
             "/console/admin/project-codes": "Project codes", "/console/admin/units":
             "Custom units", "/console/admin/states": "Custom states",
             "/console/admin/error-reports": "Error reports", "/console/admin/news": "News",
             "/console/admin/rates": "Exchange rates", "/console/admin/services": "Services",
             "/console/notifications": "Notifications", "/console/account/tokens": "API tokens"}


def test_the_new_pages_are_labelled_and_fit_390_px(console):
    page = console.page
    page.set_viewport_size({"width": 390, "height": 800})
    console.sign_in(*ADMIN)
    for path, heading in NEW_PAGES.items():
        page.goto(console.url(path))
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide at 390 px"
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
            'input, select, textarea')].filter(e => !(e.labels && e.labels.length)
            && !e.getAttribute('aria-label')).map(e => e.outerHTML)""")
        assert unlabelled == [], path
    page.goto(console.url("/console/admin/services"))
    expect(page.locator("table.services td.ok")).to_have_count(6)  # every service ready
    expect(page.get_by_text("Gateway: Ready")).to_be_visible()


def test_a_staff_user_is_offered_only_what_staff_may_do(console):
    name, password = new_user(console.base, staff=True)
    page = console.page
    console.sign_in(name, password)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
        ["Home", "Imports", "Attachments", "Audit", "Administration", "Account"])
    page.goto(console.url("/console/admin/users"))
    page.get_by_label("Search users").fill(ADMIN[0])
    expect(page.locator("table.users tbody tr").filter(has_text="superuser")).to_be_visible()
    expect(page.get_by_role("form", name="New user")).to_have_count(0)  # superusers create
    expect(page.get_by_role("button", name=f"Edit user {ADMIN[0]}")).to_have_count(0)
    page.get_by_label("Search users").fill(name)
    page.get_by_role("button", name=f"Edit user {name}").click()
    form = page.get_by_role("form", name=f"Edit user {name}")
    expect(form.get_by_label("Active (may sign in)")).to_be_visible()
    expect(form.get_by_label(re.compile("^Staff"))).to_have_count(0)  # superusers grant it
    page.goto(console.url("/console/admin/groups"))
    expect(page.get_by_role("form", name="New group")).to_be_visible()  # staff write groups
    page.goto(console.url("/console/attachments"))
    page.get_by_label("Model type").select_option("part")
    expect(page.get_by_text("Your roles do not allow adding attachments")).to_be_visible()


def test_a_custom_state_is_made_from_the_form_the_api_describes(console):
    name = f"S{uuid.uuid4().hex[:6].upper()}"
    key = 1000 + uuid.uuid4().int % 100000
    page = admin_page(console, "/console/admin/states")
    form = page.get_by_role("form", name="New state")
    form.get_by_label("Name (required)").fill(name)
    form.get_by_role("button", name="Create state").click()
    expect(page.locator("#new-key-error")).to_have_text("This field is required.")
    expect(page.locator("#new-reference_status-error")).to_have_text("This field is required.")
    expect(form.get_by_label("Name (required)")).to_have_value(name)
    form.get_by_label("Key (required)", exact=True).fill(str(key))
    form.get_by_label("Label (required)").fill("Shiny")
    form.get_by_label("Logical Key (required)").fill("10")
    form.get_by_label("Color").select_option("success")
    form.get_by_label("Model (required)").select_option(label="stock | Stock Item")
    form.get_by_label("Reference status (required)").select_option("StockStatus")
    form.get_by_role("button", name="Create state").click()
    row = page.locator("table.records tbody tr").filter(has_text=name)
    expect(row.locator(".badge.color-success")).to_have_text("Shiny")
    found = api("GET", console.base, "/api/generic/status/custom/", ADMIN,
                params={"search": name}).json()
    assert [(s["key"], s["color"], s["reference_status"]) for s in found] == [
        (key, "success", "StockStatus")]
