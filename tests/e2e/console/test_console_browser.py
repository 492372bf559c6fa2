"""The operator console in a real browser (Debian's chromium through Playwright) against the
whole stack: sign-in, sign-out and the e-mailed link; an import of 1,000 project codes with
two bad rows, one fixed in place; a lost session sent to sign in and back; keyboard use,
labelled fields and both widths. Each runs in a thread of its own (conftest.py); API checks
use fresh connections from that thread (plain `requests` calls, no pooled session)."""
import re
import time
import uuid

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN
from tests.e2e.console.conftest import SCREENSHOTS

ROWS = 1000
BAD_EMPTY, BAD_LONG = 137, 842  # 1-based data rows that the target refuses


def api(method: str, base: str, path: str, auth, **kwargs) -> requests.Response:
    return requests.request(method, base + path, auth=auth, timeout=30, **kwargs)


def nav(page, name: str):
    """An entry of the console's main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def new_user(base: str, staff: bool = False) -> tuple[str, str]:
    """A user made through the API by the superuser; its name and password."""
    name, password = f"console-{uuid.uuid4().hex[:8]}", f"Secret-9x-{uuid.uuid4().hex[:8]}"
    r = api("POST", base, "/api/user/", ADMIN, json={
        "username": name, "first_name": "", "last_name": "", "email": f"{name}@example.com",
        "password": password, "is_staff": staff, "groups": []})
    assert r.status_code == 201, r.text
    return name, password


def test_sign_in_shows_what_roles_allow_and_sign_out(console):
    name, password = new_user(console.base)
    page = console.page
    page.goto(console.url("/console/"))
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2F$"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill("wrong-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Unable to log in")
    expect(page.get_by_label("Username")).to_have_value(name)  # the form keeps what was typed
    console.sign_in(name, password)
    expect(page).to_have_url(console.url("/console/"))
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link")).to_have_text(
        ["Home", "Imports", "Attachments", "Account"])
    nav(page, "Imports").click()
    expect(page.get_by_role("heading", name="New import")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(console.url("/console/sign-in"))
    page.goto(console.url("/console/imports"))
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fimports$"))


def test_import_of_1000_rows_with_two_bad_ones_fixed_in_place_and_accepted(console, tmp_path):
    prefix = f"BRW{uuid.uuid4().hex[:5].upper()}"
    lines = ["Project Code,Description"]
    for n in range(1, ROWS + 1):
        code = "" if n == BAD_EMPTY else ("X" * 60 if n == BAD_LONG else f"{prefix}-{n:04d}")
        lines.append(f"{code},Imported row {n}")
    data = tmp_path / "codes.csv"
    data.write_text("\n".join(lines) + "\n")

    page = console.page
    console.sign_in(*ADMIN)
    page.goto(console.url("/console/imports"))
    page.get_by_label("What to import").select_option("projectcode")
    page.get_by_label(re.compile("^Data file")).set_input_files(str(data))
    expect(page.get_by_text("codes.csv —")).to_be_visible()
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"))
    session_pk = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name="Columns")).to_be_visible()
    expect(page.get_by_role("combobox", name=re.compile("^Project Code"))).to_have_value(
        "Project Code")  # mapped by the server, from the column's label
    page.get_by_role("button", name="Accept columns and read rows").click()

    rows = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Status"))
    expect(rows).to_be_visible(timeout=120_000)
    expect(page.get_by_text(f"Rows 1–25 of {ROWS:,}")).to_be_visible()
    body = rows.locator("tbody tr")
    expect(body.nth(0).locator("td.state")).to_contain_text("Invalid")  # invalid rows first
    expect(body.nth(1).locator("td.state")).to_contain_text("Invalid")
    expect(body.nth(2).locator("td.state")).to_contain_text("Valid")
    empty_row = page.locator(f'tr[data-row="{BAD_EMPTY}"]')
    expect(empty_row.locator("td.invalid .error")).to_contain_text("This field may not be blank")
    long_row = page.locator(f'tr[data-row="{BAD_LONG}"]')
    expect(long_row.locator("td.invalid .error")).to_contain_text("no more than 50 characters")

    empty_row.get_by_role("button", name=re.compile(f"^Edit Project Code of row {BAD_EMPTY}")).click()
    editor = page.get_by_label(f"Project Code of row {BAD_EMPTY}", exact=True)
    editor.fill(f"{prefix}-FIXED")
    editor.press("Enter")
    expect(empty_row.locator("td.state")).to_have_text("Valid")
    expect(empty_row.locator(".error")).to_have_count(0)

    page.get_by_role("button", name="Accept all valid rows").click()
    expect(page.get_by_text(f"{ROWS - 1:,} of {ROWS:,}")).to_be_visible(timeout=180_000)
    expect(long_row.locator("td.state")).to_contain_text("Invalid")

    # the review opened afresh: time until its first page of rows shows (printed, not
    # asserted: the 2-core machine's load decides it)
    started = time.monotonic()
    page.goto(console.url(f"/console/imports/{session_pk}"))
    expect(page.locator(f'tr[data-row="{BAD_LONG}"]')).to_be_visible()
    print(f"row review of {ROWS} rows: first page shown {time.monotonic() - started:.2f} s "
          "after the navigation started")

    r = api("GET", console.base, "/api/project-code/", ADMIN,
            params={"search": prefix, "limit": 2000})
    codes = {c["code"]: c["description"] for c in r.json()["results"]}
    assert len(codes) == ROWS - 1
    assert codes[f"{prefix}-FIXED"] == f"Imported row {BAD_EMPTY}"
    assert codes[f"{prefix}-0001"] == "Imported row 1" and "X" * 60 not in codes
    session = api("GET", console.base, f"/api/importer/session/{session_pk}/", ADMIN).json()
    assert session["completed_row_count"] == ROWS - 1 and session["row_count"] == ROWS


def change_password_elsewhere(base: str, name: str, old: str, new: str):
    """As a script with the user's credentials would: every browser session of the user ends."""
    r = api("POST", base, "/api/auth/password/change/", (name, old), json={
        "old_password": old, "new_password1": new, "new_password2": new})
    assert r.status_code == 200, r.text


def test_a_lost_session_signs_in_again_and_returns(console):
    name, password = new_user(console.base)
    page = console.page
    console.sign_in(name, password)
    page.goto(console.url("/console/imports?from=test"))
    expect(page.get_by_role("heading", name="Import sessions")).to_be_visible()

    # lost while the page was open: its next API call (opening another page) finds out
    change_password_elsewhere(console.base, name, password, password + "-2")
    nav(page, "Account").click()  # no API call on this page
    nav(page, "Imports").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fimports$"))
    console.sign_in(name, password + "-2")
    expect(page).to_have_url(console.url("/console/imports"))
    expect(page.get_by_role("heading", name="Import sessions")).to_be_visible()

    # lost between visits: the page loaded again asks who is signed in first
    page.goto(console.url("/console/imports?from=test"))
    change_password_elsewhere(console.base, name, password + "-2", password + "-3")
    page.reload()
    expect(page).to_have_url(re.compile(
        r"/console/sign-in\?next=%2Fconsole%2Fimports%3Ffrom%3Dtest$"))
    console.sign_in(name, password + "-3")
    expect(page).to_have_url(console.url("/console/imports?from=test"))


def test_password_change_and_the_mailed_sign_in_link(console, stack, smtp):
    name, password = new_user(console.base)
    page = console.page
    console.sign_in(name, password)
    nav(page, "Account").click()
    page.get_by_label("Current password").fill("not-the-password")
    page.get_by_label("New password", exact=True).fill("Another-Pass-42x")
    page.get_by_label("New password again").fill("Another-Pass-42x")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#field-old_password-error")).to_be_visible()
    expect(page.get_by_label("New password", exact=True)).to_have_value("Another-Pass-42x")
    page.get_by_label("Current password").fill(password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    page.get_by_role("button", name="Sign out").click()

    before = len(smtp.messages())
    page.get_by_label("E-mail address").fill(f"{name}@example.com")
    page.get_by_role("button", name="E-mail me a link").click()
    expect(page.get_by_role("status")).to_contain_text("sign-in link is on its way")
    link = None
    for _ in range(200):
        mails = smtp.messages()[before:]
        found = [m for m in mails if f"{name}@example.com" in str(m["To"])]
        if found:
            text = found[-1].get_payload(decode=True)
            link = re.search(rb"https?://\S+/api/email/login/\?sesame=[^\s\"<]+", text).group(0)
            break
        page.wait_for_timeout(100)
    assert link, "no login mail arrived"
    page.goto(link.decode())
    expect(page).to_have_url(console.url("/console/"))
    expect(page.get_by_text(name, exact=True)).to_be_visible()


def tab_to(page, name: str, presses: int = 15):
    """Press Tab until the focused element's text or label is `name`."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return (e.labels && e.labels.length ? e.labels[0].textContent : e.textContent)
                .trim(); }""")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reached with the Tab key")


FIRST_LOAD_LIMIT = 300 * 1024  # bytes on the wire (compressed) for the console's first page


def test_keyboard_labels_and_both_widths(console):
    page = console.page
    page.goto(console.url("/console/sign-in"))
    page.get_by_label("Username").wait_for()
    # the browser's own account of the first load: every byte it fetched, as sent (gzipped)
    loaded = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource');
        return {bytes: [nav, ...resources].reduce((n, e) => n + e.transferSize, 0),
                files: resources.length + 1, ms: nav.loadEventEnd - nav.startTime}; }""")
    print(f"first load: {loaded['bytes']} bytes in {loaded['files']} files, "
          f"load event after {loaded['ms']:.0f} ms")
    assert 0 < loaded["bytes"] < FIRST_LOAD_LIMIT
    # keyboard only: the username field has the focus, Tab moves on, Enter submits
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(ADMIN[0])
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN[1])
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out").wait_for()
    tab_to(page, "Imports")  # focus starts at the new page's content: the first card
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url("/console/imports"))
    tab_to(page, "What to import")
    page.get_by_role("heading", name="Import sessions").wait_for()
    for entry, heading in (("Attachments", "Attachments"), ("Account", "Account"),
                           ("Home", f"Welcome, {ADMIN[0]}"), ("Imports", "Import sessions")):
        started = time.monotonic()
        nav(page, entry).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        print(f"page {entry}: usable after {time.monotonic() - started:.2f} s")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)""")
    assert unlabelled == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"console-imports-{width}.png"), full_page=True)
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= width, f"the page is {overflow} px wide at {width} px"
        expect(page.get_by_role("button", name="Upload and map columns")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_attachments_upload_preview_download_edit_and_delete(console, tmp_path):
    from PIL import Image
    image = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(image)
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n")
    model_id = str(uuid.uuid4().int % 10 ** 6)

    page = console.page
    console.sign_in(*ADMIN)
    nav(page, "Attachments").click()
    page.get_by_label("Model type").select_option("part")
    page.get_by_label("Object id").fill(model_id)
    page.get_by_label("Files", exact=True).set_input_files([str(image), str(notes)])
    table = page.locator("table.attachments")
    expect(table.locator("tbody tr")).to_have_count(2)
    preview = page.get_by_alt_text("Preview of photo.png")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") == 40  # loaded under the console's CSP

    with page.expect_download() as download:
        table.get_by_role("link", name="photo.png").click()
    assert download.value.suggested_filename == "photo.png"
    assert open(download.value.path(), "rb").read() == image.read_bytes()

    page.get_by_label("Link", exact=True).fill("https://example.com/datasheet")
    page.get_by_label("Comment", exact=True).fill("the datasheet")
    page.get_by_role("button", name="Add link").click()
    expect(table.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Show").select_option("link")
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Show").select_option("all")

    table.get_by_role("button", name="Edit notes.txt").click()
    page.get_by_label("File name").fill("renamed.txt")
    page.get_by_label("Tags (comma separated)").fill("spec, draft")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(table.get_by_role("link", name="renamed.txt")).to_be_visible()
    expect(table.get_by_text("draft, spec")).to_be_visible()  # stored in order

    page.get_by_label("Search").fill("datasheet")
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Search").fill("")
    expect(table.locator("tbody tr")).to_have_count(3)
    page.on("dialog", lambda dialog: dialog.accept())
    for name in ("photo.png", "renamed.txt", "https://example.com/datasheet"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    page.get_by_role("button", name="Delete selected (3)").click()
    expect(page.get_by_text("No attachments")).to_be_visible()
    r = api("GET", console.base, "/api/attachment/", ADMIN,
            params={"model_type": "part", "model_id": model_id})
    assert r.json() == []
