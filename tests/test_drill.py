"""`make drill`'s own logic, without running a drill: the verdict from the phases' results, the
printed table, refusing hosts off this machine, the environment its processes get, the expected
state of the poison burst, and that the bad-input phase covers every RPC."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import drill, drill_bad_inputs, drill_poison
from benchmarks.drill_procs import (
    NotLoopback,
    drill_env,
    grpc_fleet_target,
    require_loopback,
    summary,
)
from benchmarks.drill_report import (
    COLUMNS,
    PhaseResult,
    is_client_error,
    not_run,
    render_report,
    render_table,
    verdict,
    verdict_line,
    wrap_cell,
)
from vrs.catalog.products import Product, ProductPatch
from vrs.events.publish import delete_event, update_event, upsert_event
from vrs.images.source import ImageInput, sha256_hex
from vrs.v1 import common_pb2, embedder_pb2


def clean(**fields: object) -> PhaseResult:
    result = PhaseResult("redis-loss", "Redis killed", requests=100, acked=5, found=5)
    for name, value in fields.items():
        setattr(result, name, value)
    return result


def test_clean_phases_pass() -> None:
    ok, reasons = verdict([clean(), clean(name="floods", acked=None, found=None)])
    assert (ok, reasons) == (True, [])
    assert verdict_line(ok, reasons) == "drill: PASS"


def test_a_failed_call_fails_the_drill_naming_phase_and_code() -> None:
    ok, reasons = verdict([clean(errors=Counter({"UNAVAILABLE": 3}))])
    assert not ok
    assert reasons == ["redis-loss: 3 failed calls (UNAVAILABLE x3)"]


def test_a_missing_acknowledged_write_fails_the_drill() -> None:
    ok, reasons = verdict([clean(acked=10, found=8)])
    assert not ok
    assert reasons == ["redis-loss: 2 of 10 acknowledged writes not found afterwards"]


def test_client_errors_pass_only_where_the_fault_expects_them() -> None:
    errors = Counter({"INVALID_ARGUMENT": 30, "HTTP 400": 12, "NOT_FOUND": 2})
    assert verdict([clean(errors=errors, client_errors_allowed=True)])[0]
    assert not verdict([clean(errors=errors)])[0]


def test_server_errors_fail_even_where_client_errors_are_expected() -> None:
    for code in ("INTERNAL", "UNKNOWN", "HTTP 500", "HTTP 503", "UNAVAILABLE"):
        ok, reasons = verdict([clean(errors=Counter({code: 1}), client_errors_allowed=True)])
        assert not ok, code
        assert code in reasons[0]


def test_allowed_errors_are_named() -> None:
    poison = clean(name="poison-burst", errors=Counter({"DEAD_LETTER": 13}))
    assert not verdict([poison])[0]
    poison.allowed_errors = frozenset({"DEAD_LETTER"})
    assert verdict([poison])[0]


def test_problems_and_phases_not_run_fail_the_drill() -> None:
    assert not verdict([clean(problems=["the cache did not answer again"])])[0]
    ok, reasons = verdict([clean(), not_run("floods", "Floods", "--time-limit reached")])
    assert not ok
    assert reasons == ["floods: not run: --time-limit reached"]
    assert verdict([]) == (False, ["no phase ran"])


def test_the_verdict_line_is_one_line_with_every_reason() -> None:
    line = verdict_line(False, ["a: exited:\nTraceback (most recent call last)\n  x", "b: y"])
    assert "\n" not in line
    assert line.startswith("drill: FAIL (a: exited: Traceback")
    assert line.endswith("; b: y)")


def test_is_client_error() -> None:
    assert is_client_error("INVALID_ARGUMENT") and is_client_error("FAILED_PRECONDITION")
    assert is_client_error("HTTP 404") and is_client_error("HTTP 413")
    assert not is_client_error("HTTP 500") and not is_client_error("HTTP 200")
    assert not is_client_error("INTERNAL") and not is_client_error("UNKNOWN")
    assert not is_client_error("HTTP junk")


def test_the_table_has_one_row_per_fault_under_a_header() -> None:
    results = [
        clean(latencies_s=[0.01] * 99 + [0.5]),
        clean(
            name="bad-inputs",
            fault="Bad inputs",
            acked=None,
            found=None,
            errors=Counter({"INVALID_ARGUMENT": 3, "INTERNAL": 1}),
            client_errors_allowed=True,
        ),
    ]
    lines = render_table(results).splitlines()
    assert len(lines) == 2 + len(results)
    header, rule, first, second = lines
    assert header.split() == " ".join(COLUMNS).split()
    assert set(rule.replace(" ", "")) == {"-"}
    assert first.split()[-4:] == ["0", "5/5", "10.0", "ok"]
    assert "INVALID_ARGUMENT x3, INTERNAL x1" in second
    assert second.split()[-3:] == ["-", "-", "FAIL"]
    # Columns line up: every row as wide as the rule, the fault column left-aligned.
    assert all(len(line) <= len(rule) for line in lines)
    assert second.startswith("Bad inputs ")


def test_the_report_ends_with_the_verdict() -> None:
    report = render_report([clean(notes=["937 answers from the cache"])], ["cpu: X"])
    assert report.splitlines()[0] == "cpu: X"
    assert "  937 answers from the cache" in report
    assert report.splitlines()[-1] == "drill: PASS"
    failed = render_report([clean(acked=3, found=1)], [])
    assert failed.splitlines()[-1].startswith("drill: FAIL (redis-loss: 2 of 3")


@pytest.mark.parametrize("host", ["10.0.0.7", "0.0.0.0", "192.0.2.1", "example.com", "::", ""])
def test_hosts_off_this_machine_are_refused(host: str) -> None:
    with pytest.raises(NotLoopback):
        require_loopback(host)


@pytest.mark.parametrize(
    ("host", "used"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.2", "127.0.0.2"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("localhost", "127.0.0.1"),
    ],
)
def test_loopback_hosts_are_used_as_addresses(host: str, used: str) -> None:
    assert require_loopback(host) == used


def test_the_drill_refuses_a_remote_host_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert drill.main(["--host", "10.0.0.7", "--only", "floods"]) == 2
    assert "only loopback addresses are allowed" in capsys.readouterr().err


def test_phases_are_chosen_by_name_in_the_drills_order() -> None:
    args = drill.parse_args(["--only", "bad-inputs,redis-loss", "--only", "floods"])
    assert args.phases == ["redis-loss", "floods", "bad-inputs"]
    assert drill.parse_args([]).phases == list(drill.PHASES)
    with pytest.raises(SystemExit):
        drill.parse_args(["--only", "no-such-phase"])
    with pytest.raises(SystemExit):
        drill.parse_args(["--time-limit", "0"])


def test_processes_get_the_fast_model_unless_the_caller_names_one() -> None:
    caller = {
        "PATH": "/bin",
        "VRS_REDIS_URL": "redis://db.example.com:6379/0",
        "VRS_GRPC_HOST": "0.0.0.0",
        "VRS_MODEL_DEVICE": "cpu",
    }
    env = drill_env("127.0.0.1", caller)
    assert env["PATH"] == "/bin"
    assert "VRS_REDIS_URL" not in env
    assert env["VRS_GRPC_HOST"] == env["VRS_WEB_HOST"] == "127.0.0.1"
    assert env["VRS_MODEL_BACKBONE"] == "efficientnet_lite0"
    assert env["VRS_MODEL_WEIGHTS"] == "random"
    assert env["VRS_MODEL_DEVICE"] == "cpu"
    own = drill_env("127.0.0.1", {**caller, "VRS_MODEL_BACKBONE": "inception_v3"})
    assert own["VRS_MODEL_BACKBONE"] == "inception_v3"


def test_the_fleet_target_names_every_replica() -> None:
    assert grpc_fleet_target("127.0.0.1", [1, 2]) == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert grpc_fleet_target("::1", [1, 2]) == "ipv6:[::1]:1,[::1]:2"


def test_the_expected_state_applies_events_once_in_order() -> None:
    state: drill_poison.State = {}
    photo = b"photo bytes"
    upsert = upsert_event(Product("a", title="A", price=5.0), ImageInput(data=photo))
    for event in (
        upsert,
        update_event(ProductPatch("a", price=7.5, in_stock=False)),
        update_event(ProductPatch("b", price=1.0)),  # never upserted: nothing
        delete_event("a"),
        update_event(ProductPatch("a", price=9.0)),  # after the delete: nothing
    ):
        drill_poison.apply(state, event)
    assert state == {}
    drill_poison.apply(state, upsert)  # sent again by the producer: back
    assert state == {
        "a": {
            "title": "A",
            "category": "",
            "price": 5.0,
            "in_stock": True,
            "sha": sha256_hex(photo),
        }
    }


def test_the_burst_holds_the_poison_events_and_the_state_they_leave_alone() -> None:
    entries, expected = drill_poison.plan(120, seed=1)
    poison = [entry for entry in entries if isinstance(entry, dict)]
    assert len(entries) == 120
    assert len(poison) == len(drill_poison.poison_entries(b"x")) >= 12
    assert expected and not set(expected) & set(drill_poison.POISON_IDS)
    replayed: drill_poison.State = {}
    for entry in entries:
        if not isinstance(entry, dict):
            drill_poison.apply(replayed, entry)
    assert replayed == expected


def test_the_store_comparison_names_every_difference() -> None:
    want = {"a": {"price": 1.0, "sha": "x"}, "b": {"price": 2.0, "sha": "y"}}
    got = {"a": {"price": 1.5, "sha": "x"}, "c": {"price": 3.0, "sha": "z"}}
    problems = drill_poison.compare(want, got)
    assert problems == [
        "c stored but should not be",
        "b missing",
        "a: (stored, expected) {'price': (1.5, 1.0)}",
    ]
    assert drill_poison.compare(want, want) == []


def test_every_rpc_has_a_bad_input_case() -> None:
    inputs = drill_bad_inputs.Inputs(b"\xff\xd8 not really a jpeg", "p1")
    covered = {case.method for case in drill_bad_inputs.grpc_cases(inputs, "m@x")}
    assert covered == set(drill_bad_inputs.all_methods())
    assert "vrs.v1.EmbedderService/StreamUpsertProducts" in covered


def test_item_errors_are_read_from_every_kind_of_answer() -> None:
    upserts = embedder_pb2.UpsertProductsResponse(
        results=[
            embedder_pb2.UpsertResult(product_id="a", outcome=embedder_pb2.UPSERT_OUTCOME_UPSERTED),
            embedder_pb2.UpsertResult(
                product_id="b",
                outcome=embedder_pb2.UPSERT_OUTCOME_FAILED,
                error=common_pb2.ItemError(code=common_pb2.INTERNAL, message="boom"),
            ),
        ]
    )
    assert drill_bad_inputs.item_codes(upserts) == ["INTERNAL"]
    lookups = embedder_pb2.GetProductsResponse(
        not_found=["x"], invalid=[common_pb2.InvalidId(product_id="", message="empty")]
    )
    assert drill_bad_inputs.item_codes(lookups) == ["INVALID_ID", "NOT_FOUND"]


def test_endpoints_without_a_case_get_a_generic_probe() -> None:
    probe = drill_bad_inputs.generic_case("GET", "/v1/products/{product_id}/reviews/{page}")
    assert probe.url == "/v1/products/no-such-product/reviews/junk?k=junk"
    assert not probe.client_error


def test_a_long_errors_cell_wraps_under_its_column() -> None:
    errors = Counter({f"HTTP {400 + i}": 10 - i for i in range(6)})
    lines = render_table([clean(errors=errors, client_errors_allowed=True)]).splitlines()
    header, _, first, *more = lines
    column = header.index("errors by code")
    assert more, "six codes do not fit one line of the column"
    assert first[column:].startswith("HTTP 400 x10, HTTP 401 x9,")
    assert all(line[:column].strip() == "" for line in more)
    shown = " ".join(line[column:].split("  ")[0] for line in [first, *more])
    assert [f"HTTP {400 + i} x{10 - i}" in shown for i in range(6)] == [True] * 6


def test_wrap_cell_breaks_after_commas() -> None:
    assert wrap_cell("a x1, b x2, c x3", 10) == ["a x1, b x2,", "c x3"]
    assert wrap_cell("0", 10) == ["0"]


def test_log_lines_are_summarised_with_the_exceptions_last_line() -> None:
    line = (
        '{"level": "ERROR", "logger": "vrs.rpc.server", "msg": "unhandled error", '
        '"method": "/vrs.v1.SearchService/SearchByProduct", '
        '"exc": "Traceback (most recent call last):\\n  File x\\nValueError: bad id"}'
    )
    assert (
        summary(line)
        == "unhandled error (/vrs.v1.SearchService/SearchByProduct): ValueError: bad id"
    )
    assert summary("Segmentation fault") == "Segmentation fault"
