"""The one product-id rule (vrs.catalog.normalize_product_id), and that catalog events and the
CLI apply it too. The RPCs are in test_product_ids_grpc.py."""

from __future__ import annotations

import pytest

from services.cli.main import main
from vrs.catalog.ids import normalize_product_id, normalize_product_ids
from vrs.errors import InvalidProduct
from vrs.events.schema import Delete, Update, Upsert, to_change
from vrs.v1 import common_pb2, embedder_pb2, events_pb2

Kind = events_pb2.CatalogEvent.Kind

NORMALISED = [
    ("surrounding spaces", " pad-1 ", "pad-1"),
    ("surrounding tabs and newlines", "\t pad-1\r\n", "pad-1"),
    ("no-break and ideographic spaces", "\xa0pad-1\u3000", "pad-1"),
    ("separators around the id", "\u2028pad-1\u2029", "pad-1"),
    ("decomposed accent (NFC)", "cafe\u0301", "caf\xe9"),
    ("inner space kept", "blue shirt 1", "blue shirt 1"),
    ("non-ASCII letters", "Hemd-\xfc-1", "Hemd-\xfc-1"),
    ("emoji", "\U0001f455-1", "\U0001f455-1"),
    ("256 bytes", "\U0001f455" * 64, "\U0001f455" * 64),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in NORMALISED], ids=[c[0] for c in NORMALISED]
)
def test_ids_are_normalised_to_one_form(raw: str, expected: str) -> None:
    assert normalize_product_id(raw) == expected


REFUSED = [
    ("empty", "", "product_id is missing"),
    ("only spaces", " \t\u3000 ", "product_id is missing"),
    ("inner tab", "pad\t1", "U+0009 at position 3, a control character"),
    ("inner newline", "pad\n1", "U+000A"),
    ("NUL", "pad\x001", "U+0000"),
    ("DEL", "pad\x7f1", "U+007F"),
    ("next line", "pad\x851", "U+0085"),
    ("left-to-right mark", "pad\u200e1", "U+200E LEFT-TO-RIGHT MARK at position 3, a format"),
    ("right-to-left mark", "pad\u200f1", "U+200F RIGHT-TO-LEFT MARK"),
    ("right-to-left override", "pad\u202e1", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("left-to-right embedding", "\u202apad", "U+202A LEFT-TO-RIGHT EMBEDDING at position 0"),
    ("first strong isolate", "pad\u20681", "U+2068 FIRST STRONG ISOLATE"),
    ("zero-width space", "pad\u200b1", "U+200B ZERO WIDTH SPACE"),
    ("zero-width joiner", "pad\u200d1", "U+200D ZERO WIDTH JOINER"),
    ("byte order mark", "\ufeffpad", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("soft hyphen", "pad\xad1", "U+00AD SOFT HYPHEN"),
    ("inner line separator", "pad\u20281", "U+2028 LINE SEPARATOR at position 3, a line sep"),
    ("inner paragraph separator", "pad\u20291", "U+2029 PARAGRAPH SEPARATOR"),
    ("private use", "pad\ue0001", "U+E000 at position 3, a private-use character"),
    ("unassigned", "pad\U000e00001", "U+E0000 at position 3, an unassigned code point"),
    ("lone surrogate", "pad\udcff", "U+DCFF at position 3, a surrogate"),
    ("257 bytes", "x" * 257, "is 257 bytes in UTF-8, at most 256"),
    ("65 wide characters", "\U0001f455" * 65, "is 260 bytes in UTF-8, at most 256"),
]


@pytest.mark.parametrize(("raw", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_ids_name_the_problem_and_the_code_point(raw: str, reason: str) -> None:
    with pytest.raises(InvalidProduct) as refused:
        normalize_product_id(raw)
    assert reason in str(refused.value)


def test_a_message_shows_an_invisible_character_escaped() -> None:
    with pytest.raises(InvalidProduct) as refused:
        normalize_product_id("abc\u202eexe.jpg")
    message = str(refused.value)
    assert "\u202e" not in message
    assert "'abc\\u202eexe.jpg'" in message


def test_a_message_about_a_long_id_shows_only_its_start() -> None:
    with pytest.raises(InvalidProduct) as refused:
        normalize_product_id("x" * 100_000)
    assert len(str(refused.value)) < 200


def test_a_list_of_ids_names_each_bad_one_by_position() -> None:
    with pytest.raises(InvalidProduct) as refused:
        normalize_product_ids(["ok-1", "", "ok-2", "bad\u200b"])
    message = str(refused.value)
    assert message.startswith("2 of 4 product ids are invalid: #1: product_id is missing; #3: ")
    assert "U+200B" in message


def test_a_list_of_many_bad_ids_keeps_its_message_short() -> None:
    with pytest.raises(InvalidProduct) as refused:
        normalize_product_ids(["bad\u200b"] * 1000)
    assert str(refused.value).endswith("; and 995 more")


def _event(kind: int, product_id: str, **fields: object) -> events_pb2.CatalogEvent:
    return events_pb2.CatalogEvent(kind=kind, product_id=product_id, **fields)  # type: ignore[arg-type]


def test_events_use_the_normalised_id() -> None:
    upsert = to_change(
        _event(
            Kind.UPSERT,
            " pad-1 ",
            product=common_pb2.ProductAttributes(product_id="pad-1\u3000"),
            image=common_pb2.ImageSource(uri="https://img.example.com/pad-1.jpg"),
        )
    )
    update = to_change(
        _event(Kind.UPDATE, "pad-1\n", patch=embedder_pb2.ProductPatch(product_id=" pad-1"))
    )
    delete = to_change(_event(Kind.DELETE, "\tpad-1"))
    assert isinstance(upsert, Upsert) and upsert.product.product_id == "pad-1"
    assert isinstance(update, Update) and update.patch.product_id == "pad-1"
    assert isinstance(delete, Delete) and delete.product_id == "pad-1"


@pytest.mark.parametrize("kind", [Kind.UPSERT, Kind.UPDATE, Kind.DELETE])
def test_an_event_with_a_refused_id_is_invalid(kind: int) -> None:
    with pytest.raises(InvalidProduct, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        to_change(_event(kind, "pad\u202e1"))


def test_cli_delete_refuses_a_bad_id_before_calling_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Port 9 (discard): nothing listens; the id is refused before any call is made.
    code = main(["--address", "127.0.0.1:9", "delete", "ok-1", "pad\u202e1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "vrs delete: 1 of 2 product ids are invalid: #1: " in err
    assert "U+202E" in err
    assert "cannot reach" not in err


def test_cli_similar_refuses_a_bad_product_id(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--address", "127.0.0.1:9", "similar", "--product", "pad\u200b1"])
    assert code == 1
    assert "U+200B ZERO WIDTH SPACE" in capsys.readouterr().err


def test_cli_refuses_an_id_that_is_not_valid_unicode(capsys: pytest.CaptureFixture[str]) -> None:
    # A non-UTF-8 argument reaches Python as a lone surrogate; protobuf cannot encode it.
    code = main(["--address", "127.0.0.1:9", "delete", "pad\udcff"])
    assert code == 1
    assert "U+DCFF" in capsys.readouterr().err
