"""Content parts: construction helpers, message content forms, and bytes kept out of text."""

from __future__ import annotations

import logging
from pathlib import Path

import patchwire
import pytest
from patchwire import (
    Completion,
    Document,
    Image,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolResult,
    ToolResultPart,
)
from patchwire.errors import Category
from patchwire.types import as_messages

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00secret-pixels" * 50


def test_parts_are_exported_from_patchwire() -> None:
    for name in (
        "Text",
        "Image",
        "Document",
        "ToolCall",
        "ToolResultPart",
        "Reasoning",
        "ToolSpec",
    ):
        assert name in patchwire.__all__
        assert getattr(patchwire, name).__name__ == name


def test_a_message_takes_strings_and_parts_and_strings_become_text() -> None:
    image = Image.from_bytes(PNG, "image/png")
    message = Message("user", ["What is this?", image])
    assert message.content == (Text("What is this?"), image)
    assert message.text == "What is this?"


def test_plain_text_content_stays_a_string() -> None:
    assert Message("user", "hi").content == "hi"


def test_dict_messages_may_carry_part_lists() -> None:
    image = Image.from_url("https://example.test/cat.png")
    (message,) = as_messages([{"role": "user", "content": ["look", image]}])
    assert message.content == (Text("look"), image)


def test_content_of_the_wrong_kind_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match="item 1 is a int"):
        Message("user", ["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got bytes"):
        Message("user", b"raw")  # type: ignore[arg-type]


def test_bytes_never_appear_in_reprs_only_size_and_type(caplog: pytest.LogCaptureFixture) -> None:
    image = Image.from_bytes(PNG, "image/png")
    doc = Document.from_bytes(b"%PDF-1.7 secret-text", filename="a.pdf")
    message = Message("user", ["x", image, doc])
    for text in (repr(image), repr(doc), repr(message), str(message)):
        assert "secret" not in text
        assert "\\x" not in text
    assert repr(image) == f"Image(image/png, {len(PNG)} bytes)"
    assert "application/pdf" in repr(doc) and "a.pdf" in repr(doc)
    with caplog.at_level(logging.INFO):
        logging.getLogger("patchwire.test").info("sending %s", message)
    assert "secret" not in caplog.text


def test_from_path_reads_the_file_and_guesses_the_type(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    image = Image.from_path(path)
    assert image.media_type == "image/png" and image.data == PNG and image.filename == "cat.png"
    assert image.sha256 is not None and len(image.sha256) == 64
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    assert Document.from_path(pdf).media_type == "application/pdf"


def test_an_unknown_media_type_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "cat.bin"
    path.write_bytes(PNG)
    with pytest.raises(ValueError, match="pass media_type="):
        Image.from_path(path)
    with pytest.raises(ValueError, match="not one of"):
        Image.from_bytes(PNG, "application/pdf")


def test_media_holds_bytes_or_a_url_never_both_nor_a_local_path_as_url() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Image("image/png")
    with pytest.raises(ValueError, match="from_path"):
        Image.from_url("/tmp/cat.png", "image/png")
    assert Image.from_bytes(PNG, "image/png").data_url().startswith("data:image/png;base64,")
    assert Image.from_url("https://x.test/a.jpg").media_type == "image/jpeg"


def test_tool_call_parses_its_arguments_and_bad_json_is_an_integration_error() -> None:
    call = ToolCall.parsed("call_1", "get_weather", '{"city": "Paris"}')
    assert call.arguments == {"city": "Paris"} and call.raw_arguments == '{"city": "Paris"}'
    with pytest.raises(patchwire.ToolArgumentsError) as info:
        ToolCall.parsed("call_2", "get_weather", '{"city": ')
    assert info.value.category is Category.INTEGRATION
    assert info.value.raw_arguments == '{"city": '
    with pytest.raises(patchwire.ToolArgumentsError, match="not an object"):
        ToolCall.parsed("call_3", "get_weather", "[1]")


def test_tool_result_part_from_a_call_and_from_a_hub_tool_result() -> None:
    call = ToolCall("call_1", "lookup", {"q": "x"}, '{"q":"x"}')
    part = ToolResultPart.for_call(call, {"answer": 42})
    assert part.call_id == "call_1" and part.name == "lookup" and part.text == '{"answer": 42}'
    failed = ToolResultPart.for_call(call, "boom", is_error=True)
    assert failed.is_error
    from_hub = ToolResultPart.from_result(call, ToolResult(output={"rows": 3}))
    assert from_hub.text == '{"rows": 3}'


def test_completion_views_and_the_replay_message_keep_order_and_signatures() -> None:
    thought = Reasoning("thinking...", signature="sig-1", provider="anthropic")
    call = ToolCall("toolu_1", "lookup", {}, "{}")
    reply = Completion(text="ok", parts=(thought, Text("ok"), call), finish_reason="tool_calls")
    assert reply.tool_calls == (call,)
    assert reply.reasoning == (thought,)
    assert reply.message == Message("assistant", [thought, "ok", call])
    assert "sig-1" not in repr(thought)
    assert Completion(text="plain").message == Message("assistant", "plain")


def test_parts_tool_specs_and_output_specs_are_hashable_values() -> None:
    from patchwire import OutputSpec, ToolSpec

    call = ToolCall("c1", "f", {"a": [1]}, '{"a":[1]}')
    assert {call, ToolCall("c1", "f", {"a": [1]}, '{"a":[1]}')} == {call}
    assert call != ToolCall("c1", "f", {"a": [2]}, '{"a":[1]}')
    assert len({ToolSpec("f"), ToolSpec("f")}) == 1
    assert len({OutputSpec({"type": "object"}), OutputSpec({"type": "object"})}) == 1
    image = Image.from_bytes(PNG, "image/png")
    assert hash(image) == hash(Image.from_bytes(PNG, "image/png"))
