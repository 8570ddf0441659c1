"""Predictor speed: decode tokens/s for base, unmerged LoRA and merged LoRA, and HTTP overhead vs direct generate.

Everything is measured in the same run on the same tiny offline Llama (its baseline is the base model,
or direct ``ChatEngine.generate`` for the HTTP figure). Every chat generates exactly its token limit on both
sides (``ignore_eos``), so a comparison never sets a 128-token answer against one that stopped early; 8
concurrent chats are reported beside the same 8 one after another, in-process and over HTTP. On a CUDA
machine a larger randomly initialised Llama also reports batch-1 decode as a share of the memory-bandwidth
limit (weights read once per token); benchmarks/gpu.sh does the same for the Llama-3.1-8B architecture.
``python -m benchmarks.bench_serving [--quick]`` prints the table.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = [{"role": "user", "content": "How much is it for 20 adults and 5 kids?"}]
PAIRS = [("How much is it for 20 adults and 5 kids?", "Adults are $60 per person and children are $30."),
         ("Do you offer wagyu?", "No, wagyu beef is not offered.")]
# Peak HBM bandwidth in bytes/s by device name fragment (vendor data sheets).
# torch threads here and in the server process alike: the tiny model's ops are too small to split, and
# oversubscribed threads on a shared machine only add spin time.
THREADS = 1
HBM_BANDWIDTH = {"H100 SXM": 3.35e12, "H100 80GB HBM3": 3.35e12, "H100 PCIe": 2.0e12, "H100": 3.35e12,
                 "H200": 4.8e12, "A100": 2.0e12}


def _decode_tokens_per_s(engine, new_tokens: int, repeats: int) -> float:
    """Greedy decode of exactly ``new_tokens`` tokens at batch 1 (EOS suppressed), best of ``repeats``."""
    import torch

    ids = torch.tensor([engine.prompt_ids(PROMPT)], device=engine.device)
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                  pad_token_id=engine.tokenizer.pad_token_id, attention_mask=torch.ones_like(ids))
    with torch.inference_mode():
        engine.model.generate(ids, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
        best = float("inf")
        for _ in range(repeats):
            if engine.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            engine.model.generate(ids, **kwargs)
            if engine.device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return new_tokens / best


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(base: Path, adapter: Path):
    """``hibachi serve`` in its own process (one torch thread, like this one), once ready."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hibachi_cli", "serve", "--base-model", str(base), "--adapter",
                             str(adapter), "--adapter-name", "v1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": str(THREADS)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError("hibachi serve did not become ready")
        time.sleep(0.3)


def _http_vs_direct(base: Path, adapter: Path, requests: int, max_tokens: int, rounds: int,
                    clients: int) -> dict[str, float]:
    """Seconds per chat: in-process ``ChatEngine.generate`` vs the openai client over HTTP, same prompt, exactly
    ``max_tokens`` generated on both sides (``ignore_eos``), rounds interleaved, best round each; then ``clients``
    chats at once over HTTP (the server micro-batches them) vs the same chats one after another."""
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI

    from serving.engine import ChatEngine

    engine = ChatEngine.load(base, {"v1": adapter})
    proc, url = _start_server(base, adapter)
    try:
        client = OpenAI(base_url=f"{url}/openai/v1", api_key="unused", max_retries=0, timeout=120)

        def over_http(messages=PROMPT):
            answer = client.chat.completions.create(model="hibachi-llama", messages=messages, max_tokens=max_tokens,
                                                    extra_body={"ignore_eos": True})
            assert answer.usage.completion_tokens == max_tokens, answer.usage
            return answer

        def direct():
            result = engine.generate(PROMPT, max_new_tokens=max_tokens, ignore_eos=True)
            assert result.completion_tokens == max_tokens, result
            return result

        direct(), over_http()  # warm-up
        best = {"direct": float("inf"), "http": float("inf")}
        for _ in range(rounds):
            for kind, call in (("direct", direct), ("http", over_http)):
                start = time.perf_counter()
                for _ in range(requests):
                    call()
                best[kind] = min(best[kind], (time.perf_counter() - start) / requests)
        prompts = [[{"role": "user", "content": f"Question {i}: how much is it for {i + 10} adults?"}]
                   for i in range(clients)]
        start = time.perf_counter()
        for messages in prompts:
            over_http(messages)
        best["serial"] = time.perf_counter() - start
        with ThreadPoolExecutor(max_workers=clients) as pool:
            start = time.perf_counter()
            list(pool.map(over_http, prompts))
            best["concurrent"] = time.perf_counter() - start
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return best


def _concurrent_seconds(base: Path, adapter: Path, max_batch: int, clients: int, max_tokens: int) -> float:
    """Wall time for ``clients`` simultaneous chats through ``ChatEngine.generate`` (micro-batched or not)."""
    from concurrent.futures import ThreadPoolExecutor

    from serving.engine import ChatEngine

    engine = ChatEngine.load(base, {"v1": adapter}, max_batch=max_batch)
    prompts = [[{"role": "user", "content": f"Question {i}: how much is it for {i + 10} adults?"}]
               for i in range(clients)]
    engine.generate(PROMPT, max_new_tokens=4)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        start = time.perf_counter()
        list(pool.map(lambda messages: engine.generate(messages, max_new_tokens=max_tokens, ignore_eos=True),
                      prompts))
        return time.perf_counter() - start


def _gpu_bandwidth_row() -> dict | None:
    import torch

    if not torch.cuda.is_available():
        return None
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from serving.engine import ChatEngine

    name = torch.cuda.get_device_name(0)
    peak = next((bw for key, bw in HBM_BANDWIDTH.items() if key in name), None)
    # About 1.2B parameters in bf16: big enough that decode is bound by reading the weights.
    config = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                         num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)
    model = LlamaForCausalLM(config).to("cuda", torch.bfloat16).eval()
    with tempfile.TemporaryDirectory() as tmp:
        from devkit.tiny_model import build_tiny_model

        tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(Path(tmp) / "tok"))
    engine = ChatEngine(model, tokenizer, [], False, "cuda")
    tps = _decode_tokens_per_s(engine, 256, 3)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    limit = peak / weight_bytes if peak else None
    return {"benchmark": "serving", "figure": f"batch-1 decode, 1.2B Llama bf16 ({name})", "value": round(tps, 1),
            "unit": "tokens/s", "baseline": round(limit, 1) if limit else "",
            "ratio": round(tps / limit, 3) if limit else "", "target": "share of HBM-bandwidth limit >= 0.5",
            "meets": (tps / limit >= 0.5) if limit else None}


def run(quick: bool = False) -> list[dict]:
    import torch

    from devkit.quick_adapter import train_quick_adapter
    from devkit.tiny_model import build_tiny_model
    from serving.engine import ChatEngine

    torch.set_num_threads(THREADS)
    new_tokens, repeats = (48, 2) if quick else (128, 3)
    requests, rounds, max_tokens = (3, 2, 128) if quick else (5, 3, 128)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_model(Path(tmp) / "tiny")
        adapter = train_quick_adapter(base, Path(tmp) / "v1", PAIRS, steps=10 if quick else 30)
        base_tps = _decode_tokens_per_s(ChatEngine.load(base), new_tokens, repeats)
        unmerged_tps = _decode_tokens_per_s(ChatEngine.load(base, {"v1": adapter}, merge=False), new_tokens, repeats)
        merged_tps = _decode_tokens_per_s(ChatEngine.load(base, {"v1": adapter}, merge=True), new_tokens, repeats)
        common = {"benchmark": "serving", "unit": "tokens/s", "baseline": round(base_tps, 1)}
        rows.append({**common, "figure": "decode tokens/s, base model (tiny Llama, batch 1)",
                     "value": round(base_tps, 1), "ratio": 1.0, "target": "", "meets": None})
        rows.append({**common, "figure": "decode tokens/s, unmerged LoRA (peft, per-request adapters)",
                     "value": round(unmerged_tps, 1), "ratio": round(unmerged_tps / base_tps, 3), "target": "",
                     "meets": None})
        rows.append({**common, "figure": "decode tokens/s, merged LoRA (merge_and_unload)",
                     "value": round(merged_tps, 1), "ratio": round(merged_tps / base_tps, 3),
                     "target": "merged >= 0.9 x base", "meets": merged_tps >= 0.9 * base_tps})
        clients = 8
        serial = _concurrent_seconds(base, adapter, 1, clients, max_tokens)
        batched = _concurrent_seconds(base, adapter, 8, clients, max_tokens)
        rows.append({"benchmark": "serving", "figure": f"{clients} concurrent chats in-process, micro-batched "
                     f"(max_batch=8) vs one at a time ({max_tokens} tokens each)", "value": round(clients / batched, 2),
                     "unit": "requests/s", "baseline": round(clients / serial, 2), "ratio": round(serial / batched, 3),
                     "target": "batched >= 1.5 x serial", "meets": serial / batched >= 1.5})
        timing = _http_vs_direct(base, adapter, requests, max_tokens, rounds, clients)
        ratio = timing["http"] / timing["direct"]
        rows.append({"benchmark": "serving", "figure": f"chat over HTTP (openai client -> hibachi serve) vs direct "
                     f"ChatEngine.generate, {max_tokens} tokens generated (ignore_eos), best of {rounds} x "
                     f"{requests}", "value": round(timing["http"] * 1000, 1), "unit": "ms/request",
                     "baseline": round(timing["direct"] * 1000, 1), "ratio": round(ratio, 3),
                     "target": "HTTP <= 1.2 x direct", "meets": ratio <= 1.2})
        rows.append({"benchmark": "serving", "figure": f"{clients} concurrent chats over HTTP (server micro-batches) "
                     f"vs the same {clients} one after another, {max_tokens} tokens each",
                     "value": round(clients * max_tokens / timing["concurrent"], 1), "unit": "tokens/s",
                     "baseline": round(clients * max_tokens / timing["serial"], 1),
                     "ratio": round(timing["serial"] / timing["concurrent"], 3), "target": "", "meets": None})
    gpu = _gpu_bandwidth_row()
    rows.append(gpu or {"benchmark": "serving", "figure": "batch-1 decode share of HBM bandwidth",
                        "value": "skipped: no CUDA device on this machine", "unit": "", "baseline": "", "ratio": "",
                        "target": "", "meets": None})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    columns = ("figure", "value", "unit", "baseline", "ratio", "target", "meets")
    print(" | ".join(columns))
    for row in run(quick=args.quick):
        print(" | ".join(str(row.get(c, "")) for c in columns))


if __name__ == "__main__":
    main()
