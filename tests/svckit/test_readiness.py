from svckit import readiness


def test_problems_are_listed_until_cleared():
    readiness.not_ready("database", "connection refused")
    readiness.not_ready("broker", "no node answered")
    assert readiness.problems() == {"database": "connection refused",
                                    "broker": "no node answered"}
    readiness.ready("database")
    readiness.ready("broker")
    readiness.ready("never-reported")
    assert readiness.problems() == {}
