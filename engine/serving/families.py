"""Serving-engine families a user picks, with their documented scheduler defaults.

A validation file's `engine` column (`trtllm@1.0.0rc3`, `vllm@0.12.0`, `tgi-gaudi@synapseai-1.14`)
maps to a family by its name only: versions never select factors (a factor fitted to one release
describes a paper, not an engine a user picks). Other engines map to the family whose scheduler
they share (`_ALIASES`: LMDeploy and DeepSpeed-FastGen to vllm, LightLLM to sglang, Triton/NIM
to trtllm). Names we cannot place, and `unknown`, map to
`generic`: a stack nobody stated, assumed to run eagerly (no CUDA graphs) as the 2023-era
research stacks did. A blank engine (nothing chosen) means `DEFAULT_FAMILY`.

Scheduler defaults (per model instance) are taken from each project's documentation / argument
defaults as of 2025; they are starting points a user can override, not fitted values:

| family | max running seqs | token budget per step | KV block | prefill with decode | KV admission | CUDA-graph batch sizes |
|---|---|---|---|---|---|---|
| vllm | 1024 (`max_num_seqs`, large GPUs) | 8192 (`max_num_batched_tokens`, API server) | 16 | mixed, chunked | on demand, preempt (recompute) | 1..512 |
| sglang | 1024 (`max_running_requests`, memory-bound) | 8192 (`chunked_prefill_size`) | 1 (token pages) | separate prefill batches, chunked | on demand, retract (recompute) | 1..160 |
| trtllm | 2048 (`max_batch_size`) | 8192 (`max_num_tokens`) | 32 (`tokens_per_block`) | mixed (in-flight batching), prompts not chunked | reserves prompt + output (guaranteed no evict) | 1..max batch |
| vllm-ascend | 256 | 2048 | 128 | mixed, chunked | on demand, preempt | ACLGraph on the V1 engine from 0.9.0rc1 (Qwen, DeepSeek tested); eager otherwise |
| mindie | 200 (`maxBatchSize`) | 8192 (`maxPrefillTokens`) | 128 | separate prefill batches | reserves prompt + output | graph mode |
| tgi | none (`max_batch_size` unset: the KV cache bounds the batch; 4096 here) | 4096 (`max_batch_prefill_tokens`) | 16 | separate prefill batches, admitted in bursts (below) | reserves prompt + output (the router's block allocator takes input + `max_new_tokens` on admission; no preemption) | 1..32 |
| generic | 256 | 4096 | 16 | separate prefill batches | reserves prompt + output | none (eager) |

On-demand families (vllm, sglang, vllm-ascend) admit no waiting request in a step that preempted
(vLLM V1: `if not preempted_reqs`; SGLang raises its output reserve after a retraction).

TGI's router does not admit waiting requests every step: while a batch runs it pauses it for a
prefill only when `waiting_served_ratio` x running requests wait (default 0.3) or after
`max_waiting_tokens` decode steps since the last prefill (default 20); an idle server admits at
once (text-generation-launcher arguments). The other families schedule new prompts every step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_FAMILY = "vllm"
FAMILIES = ("vllm", "sglang", "trtllm", "vllm-ascend", "mindie", "tgi", "generic")

# Spellings seen in publications -> family.
_ALIASES = {
    "vllm": "vllm", "sglang": "sglang", "trtllm": "trtllm", "tensorrt-llm": "trtllm", "tensorrt_llm": "trtllm",
    "trt-llm": "trtllm", "fastertransformer": "trtllm", "vllm-ascend": "vllm-ascend", "vllm_ascend": "vllm-ascend",
    "mindie": "mindie", "mindie-llm": "mindie", "tgi": "tgi", "tgi-gaudi": "tgi",
    "text-generation-inference": "tgi", "generic": "generic", "unknown": "generic",
    # vLLM's own scheduler on other accelerators (Gaudi/HPU, ROCm, TPU builds)
    "vllm-gaudi": "vllm", "vllm-hpu": "vllm", "vllm-rocm": "vllm", "rocm-vllm": "vllm", "vllm-tpu": "vllm",
    "vllm-npu": "vllm-ascend", "mindie-service": "mindie", "mindie-server": "mindie",
    # servers that run TensorRT-LLM engines (Triton's TRT-LLM backend; NVIDIA NIM on supported GPUs)
    "triton": "trtllm", "triton-trtllm": "trtllm", "triton-trt-llm": "trtllm", "tritonserver": "trtllm", "nim": "trtllm",
    "nvidia-nim": "trtllm",
    # Mature continuous-batching engines with paged KV and graph-captured decode whose own
    # scheduler is not modelled: the nearest family stands in, never the eager `generic`.
    # LMDeploy (TurboMind: blocked KV, persistent batch, split-fuse prefill) and DeepSpeed-
    # FastGen/MII (Dynamic SplitFuse: chunked prompts mixed with decodes) schedule as vLLM does;
    # LightLLM allocates KV per token and routes as SGLang does.
    "lmdeploy": "vllm", "turbomind": "vllm", "lmdeploy-turbomind": "vllm", "lmdeploy-pytorch": "vllm",
    "deepspeed-fastgen": "vllm", "fastgen": "vllm", "deepspeed-mii": "vllm", "mii": "vllm",
    "lightllm": "sglang",
    # Hugging Face's server as papers name it
    "hf-tgi": "tgi", "huggingface-tgi": "tgi", "hf-text-generation-inference": "tgi",
}


# A version written after the name, as papers and tables write it ("vLLM 0.6.3", "TensorRT-LLM
# v1.0", "MindIE 2.1RC1", "sglang-v0.4.6"): never part of the name (QA s32: "vLLM v0.12.0" read as
# an unknown stack, eager, and its TTFT came out 15x the `vllm@0.12.0` row's).
_VERSION_WORD = re.compile(r"v?\d[\w.+-]*")
_JOINED_VERSION = re.compile(r"-v?\d[\w.+-]*$")


def _base_name(engine: str | None) -> str:
    """The engine's name without its version, separators made one: "TensorRT LLM", "tensorrt_llm",
    "TensorRT-LLM 1.0" and "tensorrt-llm@1.0" all read "tensorrt-llm"."""
    name = (engine or "").strip().lower()
    words = name.split("@", 1)[0].replace("_", " ").split()
    while len(words) > 1 and _VERSION_WORD.fullmatch(words[-1]):
        words.pop()
    return _JOINED_VERSION.sub("", "-".join(words))


def known_engine(engine: str | None) -> bool:
    """True when `engine` names a family or a server placed in one (a blank is the default)."""
    base = _base_name(engine)
    return not base or base in _ALIASES


def engine_family(engine: str | None) -> str:
    """`trtllm@1.0.0rc3` -> `trtllm`; `vLLM 0.6.3` -> `vllm`; `tgi-gaudi@x` -> `tgi`; blank ->
    DEFAULT_FAMILY; anything unrecognised (including `unknown`) -> `generic`."""
    base = _base_name(engine)
    if not base:
        return DEFAULT_FAMILY
    return _ALIASES.get(base, "generic")


@dataclass(frozen=True)
class SchedulerConfig:
    """What a continuous-batching scheduler does each step (per model instance)."""

    max_num_seqs: int = 1024
    max_num_batched_tokens: int = 8192
    block_size: int = 16
    chunked_prefill: bool = True      # a prompt may be split over steps
    mixed_batches: bool = True        # prefill chunks ride in the same step as decodes
    reserve_output: bool = False      # admission reserves prompt + output KV (no preemption)
    cuda_graph_max_batch: int = 512   # documentation only: decode batches up to here replay graphs
    # Admission throttle (TGI router): while a batch runs, waiting requests are prefilled only when
    # there are `waiting_served_ratio` x running of them, or after `max_waiting_steps` decode
    # steps since the last admission. 0 steps: no throttle (admit every step).
    waiting_served_ratio: float = 0.0
    max_waiting_steps: int = 0


SCHEDULERS = {
    "vllm": SchedulerConfig(1024, 8192, 16, True, True, False, 512),
    "sglang": SchedulerConfig(1024, 8192, 1, True, False, False, 160),
    "trtllm": SchedulerConfig(2048, 8192, 32, False, True, True, 2048),
    "vllm-ascend": SchedulerConfig(256, 2048, 128, True, True, False, 0),
    "mindie": SchedulerConfig(200, 8192, 128, False, False, True, 200),
    "tgi": SchedulerConfig(4096, 4096, 16, False, False, True, 32, 0.3, 20),
    "generic": SchedulerConfig(256, 4096, 16, False, False, True, 0),
}


# Documented priors of a family (before any fit): applied over the base factors and under a
# fitted `name@family` value. Only what the family's execution mode implies physically.
FAMILY_PRIORS = {
    # Eager execution (no CUDA graphs): every kernel launch is paid from Python each step;
    # vLLM's and SGLang's own graph-capture notes report 2-4x shorter small-batch decode steps
    # with graphs. NCCL ring all-reduce without custom one-shot kernels reaches ~40% of the link.
    "generic": {"inf_overhead_scale": 3.0, "inf_link_eff": 0.4},
    # vLLM-Ascend's graph-mode guide makes ACLGraph the default on the V1 engine from 0.9.0rc1,
    # tested on Qwen and DeepSeek only; the eager end is kept as the prior because the one source
    # that measures the family (Qwen3-8B, 0.9.1: 47 ms per token at 4 sequences against a 10 ms
    # bandwidth roofline) steps like an eager stack. That prior is not independent of that source.
    "vllm-ascend": {"inf_overhead_scale": 3.0},
}


def scheduler_for(engine: str | None) -> SchedulerConfig:
    return SCHEDULERS[engine_family(engine)]


# The deployment's own limits, as the closed-form model's factors carry them: the running-sequence
# cap (`inf_max_batch`) and the tokens one step may take (`inf_prefill_chunk_tokens`). The simulator
# reads the same overrides (engine.serving.capacity.scheduler_of), so every path uses one cap.
LIMIT_FACTORS = {"max_num_seqs": "inf_max_batch", "max_num_batched_tokens": "inf_prefill_chunk_tokens"}


def limit_factors(max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None) -> dict:
    """Factor overrides for the limits a deployment sets (None or 0: the family's default)."""
    given = {"max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens}
    return {LIMIT_FACTORS[k]: float(v) for k, v in given.items() if v}


# Engines built for one vendor's chips: TensorRT-LLM compiles CUDA kernels (NVIDIA GPUs only);
# MindIE and vLLM-Ascend run on CANN (Huawei Ascend NPUs only). Figures for another pair would
# describe a deployment nobody can run (trtllm on a 910B read exactly as sglang's).
VENDOR_ONLY = {"trtllm": ("nvidia", "TensorRT-LLM runs on NVIDIA GPUs only"),
               "mindie": ("huawei", "MindIE runs on Huawei Ascend only"),
               "vllm-ascend": ("huawei", "vLLM-Ascend runs on Huawei Ascend only")}


# Engines with no backend for a vendor's chips: TGI's backends are CUDA, ROCm, Gaudi, Neuron and
# TPU builds; nothing runs it on CANN. Only a named `tgi` is refused (a blank engine is the default).
VENDOR_NONE = {"tgi": ("huawei", "TGI has no Ascend backend")}

# Vendors whose chips are served by their own engine stacks: a blank engine there is assumed to
# schedule like vLLM (DEFAULT_FAMILY, with the chip's own factors), which the answer says.
VENDOR_ENGINES = {"huawei": "--engine mindie or vllm-ascend for those stacks"}


def engine_chip_problem(engine: str | None, chip) -> str:
    """Why `engine` cannot serve on `chip`, for the caller to prefix with the fields it read ('' when
    it can, or when the chip's vendor is blank)."""
    family = engine_family(engine)
    vendor = (getattr(chip, "vendor", "") or "").strip()
    if not vendor:
        return ""
    none = VENDOR_NONE.get(family) if (engine or "").strip() else None
    if none is not None and vendor.lower().startswith(none[0]):
        return f"{none[1]} ({chip.name} is {vendor}'s)"
    need = VENDOR_ONLY.get(family)
    if need is None or vendor.lower().startswith(need[0]):
        return ""
    return f"{need[1]} ({chip.name} is {vendor}'s)"


def blank_engine_note(engine: str | None, chip) -> str:
    """The assumption behind a blank engine on a chip whose vendor has its own engines ('' for a
    named engine or another vendor): the family default stands in, which the figures depend on."""
    vendor = (getattr(chip, "vendor", "") or "").strip().lower()
    if (engine or "").strip():
        return ""
    hint = next((h for v, h in VENDOR_ENGINES.items() if vendor.startswith(v)), "")
    if not hint:
        return ""
    return (f"engine not given: a vLLM-style scheduler with the {chip.name}'s default factors is assumed; "
            f"{hint}")


def budget_problem(engine: str | None, max_num_batched_tokens: int | None, input_len: float,
                   prefix_cache_hit: float = 0.0) -> str:
    """Why a token budget cannot run these prompts on this engine ('' when it can): an engine that
    does not chunk prompts prefills each whole in one step, so its budget must hold a whole prompt
    (the simulator ran it whole anyway, and the budget read as changing nothing). A prefix-cache
    hit leaves only the rest of the prompt to prefill, as the simulator admits it (4,000 tokens at
    90% cached prefill 400)."""
    new_tokens = input_len - int(input_len * prefix_cache_hit) if prefix_cache_hit > 0 else input_len
    if max_num_batched_tokens is None or max_num_batched_tokens >= new_tokens or \
            scheduler_for(engine).chunked_prefill:
        return ""
    held = (f"the {new_tokens:,.0f} tokens of a prompt its prefix cache does not hold" if new_tokens < input_len
            else f"a whole prompt ({input_len:,.0f} tokens)")
    return f"{engine_family(engine)} does not chunk prompts, so its token budget must hold {held}"
