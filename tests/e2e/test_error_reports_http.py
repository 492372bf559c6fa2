"""A flood of identical errors through the real broker and services: one report with a count,
one notification per staff user (services.system.errorreports)."""
import time

from gateway.bus import EventBus


def test_fifty_identical_errors_are_one_report_and_one_notification_each(stack, admin,
                                                                          make_user):
    staff = make_user("flood-staff", staff=True)
    bus = EventBus(stack.env["AMQP_URI"])
    for n in range(50):  # what 50 requests that each made the gateway fail would publish
        bus.publish("error.logged", {
            "kind": "OverflowError", "info": f"int too large to convert ({n})",
            "path": f"/api/flood/{n}/", "service": "gateway",
            "data": 'Traceback (most recent call last):\n  File "gateway/flood.py", line 3, '
                    f'in convert\nOverflowError: int too large to convert ({n})'},
            request_id=f"flood-{n}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reports = admin.get(f"{admin.base}/api/error-report/", params={"search": "flood.py"},
                            timeout=10).json()
        if reports and "occurred 50 times" in reports[0]["info"]:
            break
        time.sleep(0.2)
    assert len(reports) == 1 and "(occurred 50 times since " in reports[0]["info"], reports
    link = f"/api/error-report/{reports[0]['pk']}/"
    for user in (admin, staff):
        notes = user.get(f"{user.base}/api/notifications/",
                         params={"category": "inventree.error_log"}, timeout=10).json()
        assert [n["target"]["link"] for n in notes].count(link) == 1
